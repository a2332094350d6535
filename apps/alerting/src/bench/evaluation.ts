/**
 * Alert evaluation in process, one thread, no servers; prints one JSON object on stdout. Run by
 * tools/bench/alerting.bench.ts as its own process (a fresh heap, and `--cpu-prof` applies to it
 * alone), or directly: `node -r @swc-node/register apps/alerting/src/bench/evaluation.ts`.
 *
 * TENANTS tenants × RULES rules × SERIES series. Every latency series is high (breaching) for half
 * of a PERIOD-instant cycle and low for the other half, each series at its own phase, so 2/PERIOD
 * of the series change side at every instant (10 % by default) and the alerts on them move through
 * their lifecycle at a steady rate. The same instants are run three ways: the compiled expressions
 * alone, the pure `RuleEvaluator` (expressions + lifecycle), and `AlertingService.handleBatch` with
 * an in-memory sink and `InMemoryRuleStateStore` (what the service adds: buffering per instant, the
 * alert events, the state snapshot after every instant).
 */
import { cpus } from 'node:os';
import { Registry } from 'prom-client';
import { controlKey, type AggregateWindow, type AlertRule, type ControlRecord, type ThresholdRule } from '@headroom/contracts';
import { KeyEncryptionKey, TenantKeyring } from '@headroom/crypto';
import { createLogger } from '@headroom/runtime';
import { TenantDirectory } from '@headroom/tenancy';
import { compileRule, indexSnapshot, RuleEvaluator, type WindowSnapshot } from '@headroom/rules';
import { AlertingService, rulesOf, type AlertSink } from '../alerting.service';
import { InMemoryRuleStateStore } from '../rules/rule-state-store';

const env = (name: string, dflt: number) => (process.env[name] ? Number(process.env[name]) : dflt);
const TENANTS = env('BENCH_TENANTS', 100);
const RULES = env('BENCH_RULES_PER_TENANT', 100);
const INSTANTS = env('BENCH_INSTANTS', 10);
const WARMUP = env('BENCH_WARMUP_INSTANTS', 10);
const PERIOD = env('BENCH_FLIP_PERIOD', 20);
const WINDOW_MS = 10_000;
const T0 = 1_767_225_600_000;

const round = (v: number, digits = 0) => Math.round(v * 10 ** digits) / 10 ** digits;
const log = (msg: string) => process.stderr.write(`[bench:alerting:evaluation] ${msg}\n`);

// ---------------------------------------------------------------------------------------------
// Series and rules of one tenant (every tenant has the same shape; the values differ by phase)

const REGIONS = ['eu-west-1', 'us-east-1', 'ap-south-1'];
const ROUTES = 20;

interface SeriesDef {
  name: string;
  labels: Record<string, string>;
  seriesId: string;
}

/** 60 latency series (20 routes × 3 regions), 20 error and 20 request counters (per route): 100 series. */
function seriesDefs(): SeriesDef[] {
  const out: SeriesDef[] = [];
  for (let r = 0; r < ROUTES; r++) {
    for (const region of REGIONS) out.push({ name: 'api_latency_ms', labels: { route: `/r${r}`, region }, seriesId: `lat-r${r}-${region}` });
  }
  for (let r = 0; r < ROUTES; r++) out.push({ name: 'errors', labels: { route: `/r${r}` }, seriesId: `err-r${r}` });
  for (let r = 0; r < ROUTES; r++) out.push({ name: 'requests', labels: { route: `/r${r}` }, seriesId: `req-r${r}` });
  return out;
}

/**
 * RULES rules in a fixed mix (per 100): 20 legacy thresholds; 30 expressions with label matchers
 * (equality, regex, negation); 20 error ratios (10 per series, 10 aggregated by route); 30 with
 * `for` (some with keepFiringFor or a resolve threshold).
 */
function ruleSet(n: number): { rules: ThresholdRule[]; alertRules: AlertRule[] } {
  const rules: ThresholdRule[] = [];
  const alertRules: AlertRule[] = [];
  for (let i = 0; i < n; i++) {
    const k = i % 100;
    const id = `rule-${i}`;
    const route = `/r${i % ROUTES}`;
    if (k < 20) rules.push({ id, metric: 'api_latency_ms', stat: 'p95', op: '>', threshold: 250 + k, severity: 'critical' });
    else if (k < 35) alertRules.push({ id, expr: `p95(api_latency_ms{route="${route}"}) > 250`, severity: 'warning' });
    else if (k < 50) alertRules.push({ id, expr: `p99(api_latency_ms{region=~"eu-.*|us-.*", route!="${route}"}) > 375`, severity: 'warning' });
    else if (k < 60) alertRules.push({ id, expr: `sum(errors) / sum(requests) > 0.05`, severity: 'critical' });
    else if (k < 70) alertRules.push({ id, expr: `sum by (route) (sum(errors)) / sum by (route) (sum(requests)) > 0.05`, severity: 'critical' });
    else if (k < 80) alertRules.push({ id, expr: `p95(api_latency_ms{region="${REGIONS[i % 3]}"}) > 250`, for: '20s', severity: 'warning' });
    else if (k < 90) alertRules.push({ id, expr: `avg(errors) / avg(requests) > 0.05 for 30s`, keepFiringFor: '10s', severity: 'warning' });
    else alertRules.push({ id, expr: `max(api_latency_ms) > 700`, for: '10s', resolveThreshold: 650, severity: 'info' });
  }
  return { rules, alertRules };
}

/** Breaching half of the cycle, each series at its own phase. */
const high = (instant: number, phase: number) => (instant + phase) % PERIOD < PERIOD / 2;

function windowsAt(defs: SeriesDef[], tenantIndex: number, instant: number): AggregateWindow[] {
  const windowStart = T0 + instant * WINDOW_MS;
  return defs.map((d, j) => {
    const up = high(instant, (j * 7 + tenantIndex) % PERIOD);
    const base = { series: { name: d.name, labels: d.labels }, seriesId: d.seriesId, windowStart, windowMs: WINDOW_MS, count: 20 };
    if (d.name === 'api_latency_ms') {
      const p95 = up ? 400 : 100;
      return { ...base, sum: 20 * (p95 / 2), min: 1, max: p95 * 2, p50: p95 / 2, p95, p99: p95 * 1.5 };
    }
    // errors breach 5 % of requests in their high half; requests stay steady.
    const v = d.name === 'errors' ? (up ? 100 : 10) : 1_000;
    return { ...base, sum: v, min: 0, max: v, p50: v / 20, p95: v / 20, p99: v / 20 };
  });
}

// ---------------------------------------------------------------------------------------------

interface Fixture {
  tenants: string[];
  defs: SeriesDef[];
  config: { rules: ThresholdRule[]; alertRules: AlertRule[] };
  /** instants[i][t]: tenant t's windows at instant i. */
  instants: AggregateWindow[][][];
  /** Windows read by each rule evaluation (the series of the metrics it selects), summed over a tenant's rules. */
  seriesPerTenantInstant: number;
}

function fixture(): Fixture {
  const tenants = Array.from({ length: TENANTS }, (_, i) => `bench-eval-${String(i).padStart(3, '0')}`);
  const defs = seriesDefs();
  const config = ruleSet(RULES);
  const instants = Array.from({ length: WARMUP + INSTANTS + 1 }, (_, i) => tenants.map((_t, ti) => windowsAt(defs, ti, i)));
  const perMetric = new Map<string, number>();
  for (const d of defs) perMetric.set(d.name, (perMetric.get(d.name) ?? 0) + 1);
  const compiled = rulesOf({ kind: 'alert_config', tenant: tenants[0], ...config, updatedAt: new Date(T0).toISOString() }).map((r) => compileRule(r));
  const seriesPerTenantInstant = compiled.reduce((n, c) => n + c.metrics.reduce((m, name) => m + (perMetric.get(name) ?? 0), 0), 0);
  return { tenants, defs, config, instants, seriesPerTenantInstant };
}

function cpuSeconds(from: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(from);
  return (u.user + u.system) / 1e6;
}

/** The compiled expressions alone: what the rules cost before any lifecycle. */
function expressionsOnly(f: Fixture): Record<string, number> {
  const compiled = rulesOf({ kind: 'alert_config', tenant: f.tenants[0], ...f.config, updatedAt: new Date(T0).toISOString() }).map((r) => compileRule(r));
  let samples = 0;
  const run = (from: number, to: number) => {
    for (let i = from; i < to; i++) {
      for (let t = 0; t < f.tenants.length; t++) {
        const snapshot = indexSnapshot(T0 + i * WINDOW_MS, f.instants[i][t]);
        for (const c of compiled) samples += c.evaluateRaw(snapshot).length;
      }
    }
  };
  run(0, WARMUP);
  samples = 0;
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  run(WARMUP, WARMUP + INSTANTS);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const evaluations = f.tenants.length * compiled.length * INSTANTS;
  return { ruleEvaluationsPerSecond: Math.round(evaluations / seconds), samplesPerSecond: Math.round(samples / seconds), seconds: round(seconds, 3), cpuSeconds: round(cpuSeconds(cpu), 3) };
}

/** The pure RuleEvaluator (libs/rules): expressions, fingerprints, lifecycle; no events, no state snapshot. */
function pureEvaluator(f: Fixture): Record<string, unknown> {
  const compiled = f.tenants.map(() => rulesOf({ kind: 'alert_config', tenant: f.tenants[0], ...f.config, updatedAt: new Date(T0).toISOString() }).map((r) => compileRule(r)));
  const evaluators = f.tenants.map(() => new RuleEvaluator());
  const byKind: Record<string, number> = { pending: 0, firing: 0, resolved: 0 };
  let evaluations = 0;
  const run = (from: number, to: number) => {
    for (let i = from; i < to; i++) {
      for (let t = 0; t < f.tenants.length; t++) {
        const windows = f.instants[i][t];
        const snapshot: WindowSnapshot = indexSnapshot(T0 + i * WINDOW_MS, windows);
        const metrics = new Set(windows.map((w) => w.series.name));
        for (const c of compiled[t]) {
          if (!evaluators[t].shouldEvaluate(c, metrics)) continue;
          evaluations++;
          for (const tr of evaluators[t].evaluate(c, snapshot)) byKind[tr.kind]++;
        }
      }
    }
  };
  run(0, WARMUP);
  for (const k of Object.keys(byKind)) byKind[k] = 0;
  evaluations = 0;
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  run(WARMUP, WARMUP + INSTANTS);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const transitions = byKind['pending'] + byKind['firing'] + byKind['resolved'];
  const active = evaluators.reduce((n, e, t) => n + compiled[t].reduce((m, c) => m + e.activeAlerts(c.rule.id).size, 0), 0);

  // What the service does after each tenant instant, on top: snapshot the state (structuredClone) and serialise it.
  const snapStart = process.hrtime.bigint();
  let stateBytes = 0;
  for (const e of evaluators) stateBytes += JSON.stringify(e.exportState()).length;
  const snapshotMsPerTenantInstant = Number(process.hrtime.bigint() - snapStart) / 1e6 / evaluators.length;
  return {
    ruleEvaluationsPerSecond: Math.round(evaluations / seconds),
    transitionsPerSecond: Math.round(transitions / seconds),
    transitionsByState: byKind,
    transitionsPerTenantInstant: round(transitions / (INSTANTS * f.tenants.length), 1),
    activeAlertsAtEnd: active,
    seconds: round(seconds, 3),
    cpuSeconds: round(cpuSeconds(cpu), 3),
    stateSnapshot: {
      note: 'exportState() + JSON.stringify of one tenant, as AlertingService does after every instant (timed apart, at the end)',
      msPerTenantInstant: round(snapshotMsPerTenantInstant, 3),
      bytesPerTenant: Math.round(stateBytes / evaluators.length),
    },
  };
}

/** A store whose save is timed (the JSON.stringify of InMemoryRuleStateStore; exportState runs before it is called). */
class TimedStore extends InMemoryRuleStateStore {
  ns = 0n;
  override async save(tenant: string, state: Parameters<InMemoryRuleStateStore['save']>[1]): Promise<void> {
    const t = process.hrtime.bigint();
    await super.save(tenant, state);
    this.ns += process.hrtime.bigint() - t;
  }
}

async function service(f: Fixture): Promise<Record<string, unknown>> {
  const directory = new TenantDirectory(new TenantKeyring(KeyEncryptionKey.generate()));
  const at = new Date(T0).toISOString();
  for (const tenant of f.tenants) {
    const records: ControlRecord[] = [
      { kind: 'tenant', tenant, displayName: tenant, status: 'active', shards: 1, locale: 'en', createdAt: at },
      { kind: 'alert_config', tenant, rules: f.config.rules, alertRules: f.config.alertRules, updatedAt: at },
    ];
    for (const r of records) directory.apply(controlKey(r), r);
  }
  const byState: Record<string, number> = { pending: 0, firing: 0, resolved: 0 };
  let publishes = 0;
  const sink: AlertSink = {
    async publish(records) {
      publishes++;
      for (const r of records) byState[r.value!.state]++;
    },
  };
  const store = new TimedStore();
  // settleMs far away: every instant is judged when the tenant's next instant arrives, as in steady flow.
  const svc = new AlertingService(directory, sink, createLogger('bench', 'silent'), new Registry(), store, { settleMs: 600_000 });
  const feed = async (from: number, to: number) => {
    for (let i = from; i < to; i++) for (let t = 0; t < f.tenants.length; t++) await svc.handleBatch(f.tenants[t], { windows: f.instants[i][t] });
  };
  // Instant i is judged when instant i + 1 arrives: WARMUP instants judged before the clock starts.
  await feed(0, WARMUP + 1);
  for (const k of Object.keys(byState)) byState[k] = 0;
  publishes = 0;
  store.ns = 0n;
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  await feed(WARMUP + 1, WARMUP + INSTANTS + 1);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  svc.onApplicationShutdown();
  const transitions = byState['pending'] + byState['firing'] + byState['resolved'];
  const evaluations = f.tenants.length * (f.config.rules.length + f.config.alertRules.length) * INSTANTS;
  const saveSeconds = Number(store.ns) / 1e9;
  return {
    ruleEvaluationsPerSecond: Math.round(evaluations / seconds),
    seriesEvaluationsPerSecond: Math.round((f.seriesPerTenantInstant * f.tenants.length * INSTANTS) / seconds),
    transitionsPerSecond: Math.round(transitions / seconds),
    transitionsByState: byState,
    transitionsPerTenantInstant: round(transitions / (INSTANTS * f.tenants.length), 1),
    sinkPublishes: publishes,
    seconds: round(seconds, 3),
    cpuSeconds: round(cpuSeconds(cpu), 3),
    stateSaveJsonStringifySeconds: round(saveSeconds, 3),
    withoutStateSave: {
      note: 'the same run minus the time InMemoryRuleStateStore.save spent in JSON.stringify (exportState, a structuredClone, is still in)',
      ruleEvaluationsPerSecond: Math.round(evaluations / (seconds - saveSeconds)),
      transitionsPerSecond: Math.round(transitions / (seconds - saveSeconds)),
    },
  };
}

async function main(): Promise<void> {
  const f = fixture();
  const rulesPerTenant = f.config.rules.length + f.config.alertRules.length;
  log(`${TENANTS} tenants × ${rulesPerTenant} rules × ${f.defs.length} series, ${INSTANTS} instants (+${WARMUP} warm-up), ${round(200 / PERIOD, 1)} % of series flip per instant`);
  const expressions = expressionsOnly(f);
  log(`expressions alone: ${expressions['ruleEvaluationsPerSecond'].toLocaleString('en')} rule evaluations/s`);
  const pure = pureEvaluator(f);
  log(`RuleEvaluator: ${String(pure['transitionsPerSecond'])} transitions/s`);
  const svc = await service(f);
  log(`AlertingService: ${String(svc['transitionsPerSecond'])} transitions/s`);
  const out = {
    node: process.version,
    cpu: cpus()[0]?.model,
    shape: {
      tenants: TENANTS,
      rulesPerTenant,
      activeRules: TENANTS * rulesPerTenant,
      seriesPerTenant: f.defs.length,
      instantsMeasured: INSTANTS,
      warmupInstants: WARMUP,
      seriesFlippingPerInstant: `${round(200 / PERIOD, 1)} %`,
      ruleMix: '20 legacy p95 thresholds, 15 `p95(m{route="…"}) > x`, 15 regex + negated matchers, 10 `sum(errors) / sum(requests) > 0.05`, 10 `sum by (route)` ratios, 10 `for: 20s`, 10 ratio `for 30s` + keepFiringFor, 10 `for: 10s` with resolveThreshold',
      windowsReadPerTenantInstant: f.seriesPerTenantInstant,
    },
    service: svc,
    ruleEvaluator: pure,
    expressionsOnly: expressions,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().catch((err) => {
  process.stderr.write(`${String((err as Error)?.stack ?? err)}\n`);
  process.exit(1);
});
