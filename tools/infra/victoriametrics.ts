/**
 * VictoriaMetrics (single node) for the exporters' integration specs and bench: Debian's package is
 * 1.79, so a current release is built from the Go module proxy with `go install` into the Go bin
 * cache (${GOBIN:-${GOPATH:-~/go}/bin}), as tools/test/ensure-helm.sh does for helm — once; later
 * runs find it there. About 80 s on 2 cores with a cold module cache (measured: 1m20s). Installed
 * only, never run as a server by infra: each spec starts its own on a free loopback port with its
 * own -storageDataPath (libs/testing VictoriaMetricsProcess).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { InfraContext } from './context';
import { elapsedSeconds, hasCommand, InfraError, runOrFail } from './process';

const STEP = 'victoriametrics';
export const VICTORIA_METRICS_VERSION = 'v1.151.0';
const MODULE = `github.com/VictoriaMetrics/VictoriaMetrics/app/victoria-metrics@${VICTORIA_METRICS_VERSION}`;

function goBin(env: NodeJS.ProcessEnv): string {
  return env.GOBIN || path.join(env.GOPATH || path.join(os.homedir(), 'go'), 'bin');
}

export async function installVictoriaMetrics(ctx: InfraContext): Promise<void> {
  const target = path.join(goBin(ctx.env), 'victoria-metrics');
  if (fs.existsSync(target) || hasCommand('victoria-metrics')) {
    ctx.log(`victoriametrics: installed (${fs.existsSync(target) ? target : 'on PATH'}; tests start their own)`);
    return;
  }
  if (!hasCommand('go')) throw new InfraError(STEP, 'victoria-metrics is not installed and there is no Go toolchain to build it (install Go, or set VICTORIA_METRICS_BIN for the tests)');
  ctx.log(`victoriametrics: building ${MODULE} with go install into ${goBin(ctx.env)} (once, about 1–2 min)…`);
  const started = Date.now();
  const logFile = path.join(ctx.logDir, 'victoriametrics-install.log');
  await runOrFail(STEP, 'go', ['install', MODULE], { logFile, env: { ...ctx.env, GOBIN: goBin(ctx.env) } });
  ctx.log(`victoriametrics: built in ${elapsedSeconds(started)}s`);
}
