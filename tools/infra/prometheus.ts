/**
 * Prometheus from Debian's package (2.42, with promtool): installed only, never run as a server by
 * infra. The remote_write receiver's integration spec
 * (apps/collectors/src/receivers/prometheus-remote-write/) starts its own on a loopback port, with
 * its own config and data directory under tmp/, and stops it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { InfraContext } from './context';
import { aptInstall, hasCommand, isPortOpen, run } from './process';

const STEP = 'prometheus';
const INIT_SCRIPT = '/etc/init.d/prometheus';

export async function installPrometheus(ctx: InfraContext): Promise<void> {
  if (hasCommand('prometheus')) {
    ctx.log('prometheus: installed (package only; tests start their own)');
    return;
  }
  ctx.log('prometheus: installing the prometheus package (apt-get)…');
  const logFile = path.join(ctx.logDir, 'apt.log');
  await aptInstall(`${STEP}: install`, ['prometheus'], logFile);
  // Without a policy-rc.d the package's init script starts a server on :9090 with the package's
  // config: nothing here uses it, so it is stopped again.
  if (fs.existsSync(INIT_SCRIPT) && (await isPortOpen('127.0.0.1', 9090))) await run(INIT_SCRIPT, ['stop'], { logFile });
}
