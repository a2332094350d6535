/**
 * Alerting benchmark, printed as one JSON object on stdout (progress on stderr):
 *   npm run bench:alerting
 * 1. In process (apps/alerting/src/bench/evaluation.ts, its own process, one thread, no servers):
 *    100 tenants × 100 rules × 100 series; rule evaluations/s, series evaluations/s and alert
 *    transitions/s through AlertingService.handleBatch (in-memory sink and state store), and the
 *    same instants through the pure RuleEvaluator and through the compiled expressions alone.
 * 2. End to end (tools/bench/alerting/end-to-end.ts): the alerting app as a process on the real
 *    Kafka, PostgreSQL and Redis, BENCH_E2E_TENANTS tenants each with a webhook receiver, the last
 *    one answering 503 to everything; alerts fire and resolve at a steady rate for BENCH_SECONDS;
 *    window published → notification received, p50/p99/max for the healthy tenants. Then the same
 *    without the failing tenant (fresh tenants). Each phase's tenants are erased afterwards.
 * Knobs: BENCH_ONLY=in-process|e2e; BENCH_TENANTS (100), BENCH_RULES_PER_TENANT (100),
 * BENCH_INSTANTS (10), BENCH_WARMUP_INSTANTS (10), BENCH_FLIP_PERIOD (20 instants: 10 % of series
 * flip per instant); BENCH_E2E_TENANTS (20), BENCH_SECONDS (60), BENCH_WARMUP_SECONDS (10),
 * BENCH_INSTANT_MS (2000), BENCH_GROUP_WAIT (1s), BENCH_GROUP_INTERVAL (1s), BENCH_SETTLE_MS (the
 * app's default), BENCH_EPISODES_PER_INSTANT (1), BENCH_EPISODE_INSTANTS (3), BENCH_QUIET_SERIES (20);
 * BENCH_EVAL_NODE_ARGS / BENCH_ALERTING_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=tmp/bench") go to
 * the evaluation process / the alerting app. Listens on 5500–5520 only (receivers, then the app).
 * The app gets its own database (BENCH_DATABASE, headroom_bench_alerting, created and dropped): any
 * alerting instance claims every due group and outbox entry, so on the shared database the bench's
 * app and an int spec's would send each other's notifications.
 * docs/benchmarks.md explains each figure.
 */
import { execFileSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '@headroom/testing';
import { endToEnd, killAlerting } from './alerting/end-to-end';

const env = (name: string, dflt: number) => (process.env[name] ? Number(process.env[name]) : dflt);
const ONLY = process.env['BENCH_ONLY'];

const TARGETS = {
  transitionsPerSecondOneCore: 10_000,
  /** Firing notifications of healthy tenants, window published → received, minus group_wait. */
  notificationBeyondGroupWaitP99Ms: 500,
  /** "Unchanged by the failing tenant": p99 with it at most this much above p99 without it. */
  failingTenantP99ToleranceMs: 100,
};

const began = Date.now();
const log = (msg: string) => process.stderr.write(`[bench:alerting +${((Date.now() - began) / 1000).toFixed(1)}s] ${msg}\n`);

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    killAlerting();
    process.exit(130);
  });
}
process.on('exit', () => killAlerting());

function inProcess(): Record<string, unknown> {
  log('in-process evaluation (its own process, ~1–2 min)…');
  const nodeArgs = (process.env['BENCH_EVAL_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
  const out = execFileSync(process.execPath, [...nodeArgs, '-r', '@swc-node/register', join(ROOT, 'apps', 'alerting', 'src', 'bench', 'evaluation.ts')], {
    cwd: ROOT,
    timeout: 900_000,
    maxBuffer: 1 << 20,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const r = JSON.parse(out.toString()) as Record<string, Record<string, unknown>>;
  return { shape: r['shape'], service: r['service'], ruleEvaluator: r['ruleEvaluator'], expressionsOnly: r['expressionsOnly'] };
}

function gitState(): { commit: string; dirtyFiles: number } {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain'], { cwd: ROOT }).toString().split('\n').filter(Boolean).length;
    return { commit, dirtyFiles: dirty };
  } catch {
    return { commit: 'unknown', dirtyFiles: -1 };
  }
}

type Phase = { firingNotifications: { n: number; beyondGroupWaitP99Ms: number | null } };

async function main(): Promise<void> {
  const results: Record<string, unknown> = {};
  const met: Record<string, boolean | null> = {};
  let failed = false;
  try {
    if (ONLY !== 'e2e') {
      const r = inProcess();
      results['inProcess'] = r;
      const svc = r['service'] as { transitionsPerSecond: number };
      met['transitionsPerSecondOneCore'] = svc.transitionsPerSecond >= TARGETS.transitionsPerSecondOneCore;
    }
    if (ONLY !== 'in-process') {
      const e = await endToEnd(
        {
          tenants: env('BENCH_E2E_TENANTS', 20),
          seconds: env('BENCH_SECONDS', 60),
          warmupSeconds: env('BENCH_WARMUP_SECONDS', 10),
          instantMs: env('BENCH_INSTANT_MS', 2_000),
          episodesPerInstant: env('BENCH_EPISODES_PER_INSTANT', 1),
          episodeInstants: env('BENCH_EPISODE_INSTANTS', 3),
          quietSeries: env('BENCH_QUIET_SERIES', 20),
          groupWait: process.env['BENCH_GROUP_WAIT'] ?? '1s',
          groupInterval: process.env['BENCH_GROUP_INTERVAL'] ?? '1s',
          settleMs: process.env['BENCH_SETTLE_MS'] ? Number(process.env['BENCH_SETTLE_MS']) : undefined,
          nodeArgs: (process.env['BENCH_ALERTING_NODE_ARGS'] ?? '').split(' ').filter(Boolean),
          portBase: 5500,
        },
        log,
      );
      results['endToEnd'] = e;
      const a = (e['withFailingTenant'] as Phase).firingNotifications;
      const b = (e['withoutFailingTenant'] as Phase).firingNotifications;
      met['notificationBeyondGroupWaitP99Ms'] = a.n > 0 && a.beyondGroupWaitP99Ms !== null ? a.beyondGroupWaitP99Ms < TARGETS.notificationBeyondGroupWaitP99Ms : null;
      met['unchangedByFailingTenant'] =
        a.beyondGroupWaitP99Ms !== null && b.beyondGroupWaitP99Ms !== null ? a.beyondGroupWaitP99Ms - b.beyondGroupWaitP99Ms <= TARGETS.failingTenantP99ToleranceMs : null;
    }
  } catch (err) {
    failed = true;
    results['error'] = String((err as Error)?.stack ?? err);
  }
  const out = {
    node: process.version,
    cpu: { model: cpus()[0]?.model, cores: cpus().length, loadAverageAtStart: loadAtStart, loadAverageAtEnd: loadavg().map((l) => Math.round(l * 100) / 100) },
    git: gitState(),
    benchSeconds: Math.round((Date.now() - began) / 100) / 10,
    results,
    targets: {
      transitionsPerSecondOneCore: `≥ ${TARGETS.transitionsPerSecondOneCore} (inProcess.service.transitionsPerSecond)`,
      notificationBeyondGroupWaitP99Ms: `< ${TARGETS.notificationBeyondGroupWaitP99Ms} (endToEnd.withFailingTenant.firingNotifications.beyondGroupWaitP99Ms)`,
      unchangedByFailingTenant: `p99 with the failing tenant ≤ p99 without + ${TARGETS.failingTenantP99ToleranceMs} ms`,
    },
    met,
  };
  console.log(JSON.stringify(out, null, 2));
  process.exit(failed ? 1 : 0);
}

const loadAtStart = loadavg().map((l) => Math.round(l * 100) / 100);
void main();
