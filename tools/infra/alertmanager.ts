/**
 * Alertmanager from Debian's package (0.25), for its `amtool` only: libs/routing's integration spec
 * asks `amtool config routes test` which receivers a route tree picks, offline, as the oracle for
 * Headroom's router. The alertmanager daemon is never run by infra.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { InfraContext } from './context';
import { aptInstall, hasCommand, isPortOpen, run } from './process';

const STEP = 'alertmanager';
const INIT_SCRIPT = '/etc/init.d/prometheus-alertmanager';
const PORT = 9093;

export async function installAlertmanager(ctx: InfraContext): Promise<void> {
  if (hasCommand('amtool')) {
    ctx.log('alertmanager: amtool installed (package only; the daemon is not run)');
    return;
  }
  ctx.log('alertmanager: installing the prometheus-alertmanager package for amtool (apt-get)…');
  const logFile = path.join(ctx.logDir, 'apt.log');
  await aptInstall(`${STEP}: install`, ['prometheus-alertmanager'], logFile);
  // Without a policy-rc.d the package's init script starts a daemon on :9093 (and gossips on
  // :9094): nothing here uses it, so it is stopped again.
  if (fs.existsSync(INIT_SCRIPT) && (await isPortOpen('127.0.0.1', PORT))) await run(INIT_SCRIPT, ['stop'], { logFile });
}
