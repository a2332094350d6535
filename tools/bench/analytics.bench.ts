/**
 * Analytics benchmark, printed as one JSON object on stdout (progress on stderr):
 *   npm run bench:analytics
 * 1. In process (apps/analytics/src/bench/in-process.ts, its own process): aggregation points/s on
 *    one core at 10k and 100k active series; heap bytes per active series.
 * 2. End to end, the real analytics app as a process on the real Kafka and PostgreSQL: N points
 *    pre-produced to headroom.telemetry.v1 for a fresh tenant, then analytics started; points/s
 *    from the first point consumed to the last window stored (analytics.windows_10s).
 * 3. Live, at a baseline rate with current timestamps: window due (end + allowed lateness) to its
 *    aggregate record on headroom.aggregates.v1, p50/p99.
 * 4. A 10× burst while every PostgreSQL process is SIGSTOPped for 20 s: analytics' RSS each second.
 *    PostgreSQL is always SIGCONTinued (finally, SIGINT/SIGTERM, exit, and a detached watchdog).
 * Sizes: BENCH_E2E_POINTS (2,000,000), BENCH_SERIES (10,000), BENCH_POINTS_PER_WINDOW (10 per series),
 * BENCH_SHARDS (1), BENCH_BASE_RATE (10,000 points/s), BENCH_LIVE_SECONDS (45), BENCH_PAUSE_SECONDS (20;
 * 0 skips the burst). BENCH_ONLY=in-process|e2e; BENCH_KEEP_DATA=1 keeps the run's rows in PostgreSQL;
 * BENCH_ANALYTICS_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=tmp/bench") go to the analytics process.
 * docs/benchmarks.md explains each figure.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'pg';
import {
  AggregateBatchMessage,
  ControlRecordMessage,
  controlKey,
  Headers,
  seriesKey,
  TelemetryBatchMessage,
  Topics,
  type AggregateWindow,
  type ControlRecord,
  type Labels,
  type MetricPoint,
} from '@headroom/contracts';
import { createWrappedKey, KeyEncryptionKey, TenantKeyring } from '@headroom/crypto';
import { createKafkaClient, decodeRecord, recordKey, RecordPublisher, type KafkaClient } from '@headroom/kafka';
import { expectEventually, localSecrets, ROOT, serviceEnv, silentLogger, testInfra, controlTrust } from '@headroom/testing';

const env = (name: string, dflt: number) => (process.env[name] ? Number(process.env[name]) : dflt);
const E2E_POINTS = env('BENCH_E2E_POINTS', 2_000_000);
const SERIES = env('BENCH_SERIES', 10_000);
const SHARDS = env('BENCH_SHARDS', 1); // control's default; > 1 spreads the tenant over partitions (aggregates then keyed per series)
const BASE_RATE = env('BENCH_BASE_RATE', 10_000);
const LIVE_SECONDS = env('BENCH_LIVE_SECONDS', 45);
const PAUSE_SECONDS = env('BENCH_PAUSE_SECONDS', 20);
const ONLY = process.env['BENCH_ONLY'];
const KEEP_DATA = process.env['BENCH_KEEP_DATA'] === '1';

const WINDOW_MS = 10_000; // analytics' default WINDOW_MS
const LATENESS_MS = 2_000; // analytics' default ALLOWED_LATENESS_MS
const POINTS_PER_WINDOW = env('BENCH_POINTS_PER_WINDOW', 10); // per series; 10 as in the in-process bench (a point a second)
const MAX_POINTS_PER_RECORD = 5_000;
const METRIC = 'bench_latency_ms';
const CLOSER = 'bench_closer';

const TARGETS = {
  inProcessPointsPerSecondPerCore: 1_000_000,
  endToEndPointsPerSecond: 300_000,
  heapBytesPerActiveSeries: 4096,
  closeToPublishedP99Ms: 1000,
};

const began = Date.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (msg: string) => process.stderr.write(`[bench:analytics +${((Date.now() - began) / 1000).toFixed(1)}s] ${msg}\n`);
const round = (v: number, digits = 0) => Math.round(v * 10 ** digits) / 10 ** digits;

// ---------------------------------------------------------------------------------------------
// Process and machine figures from /proc (Linux)

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/** Parent, command name and CPU seconds (user + system) from /proc/<pid>/stat; undefined when the process is gone. */
function procStat(pid: number): { ppid: number; comm: string; cpuSeconds: number } | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = s.lastIndexOf(')');
    const comm = s.slice(s.indexOf('(') + 1, close);
    const f = s.slice(close + 2).split(' ');
    // After "pid (comm) ": state(0) ppid(1) ... utime(11) stime(12)
    return { ppid: Number(f[1]), comm, cpuSeconds: (Number(f[11]) + Number(f[12])) / CLK_TCK };
  } catch {
    return undefined;
  }
}

function rssMb(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? round(Number(m[1]) / 1024, 1) : undefined;
  } catch {
    return undefined;
  }
}

/** Busy and total jiffies of the whole machine (all cores). */
function machineCpu(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - f[3] - f[4], total };
}

function kafkaPid(): number | undefined {
  const file = join(ROOT, 'tmp', 'infra', 'data', 'kafka', 'kafka.pid');
  const pid = existsSync(file) ? Number(readFileSync(file, 'utf8').trim()) : NaN;
  return Number.isInteger(pid) && procStat(pid) ? pid : undefined;
}

/** CPU seconds used by a set of processes between two moments, and the machine's busy share. */
class CpuWindow {
  private readonly start: { at: number; machine: { busy: number; total: number }; procs: Map<string, number> };

  constructor(private readonly pids: Record<string, number | undefined>) {
    this.start = { at: Date.now(), machine: machineCpu(), procs: this.sample() };
  }

  private sample(): Map<string, number> {
    const m = new Map<string, number>();
    for (const [name, pid] of Object.entries(this.pids)) {
      const s = pid === undefined ? undefined : procStat(pid);
      if (s) m.set(name, s.cpuSeconds);
    }
    return m;
  }

  end(): Record<string, number> {
    const seconds = (Date.now() - this.start.at) / 1000;
    const machine = machineCpu();
    const out: Record<string, number> = {
      wallSeconds: round(seconds, 2),
      machineBusyShare: round((machine.busy - this.start.machine.busy) / Math.max(1, machine.total - this.start.machine.total), 2),
    };
    for (const [name, cpu] of this.sample()) out[`${name}CpuSeconds`] = round(cpu - (this.start.procs.get(name) ?? cpu), 2);
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL pause (SIGSTOP every process of the local cluster), always undone

interface PausedPostgres {
  pids: number[];
  watchdog: ChildProcess;
}
let paused: PausedPostgres | undefined;

/** The local cluster's postmaster (from its postmaster.pid, matching DATABASE_URL's port) and its children. */
function postgresPids(databaseUrl: string): { pids: number[]; why?: string } {
  const url = new URL(databaseUrl);
  if (!['127.0.0.1', 'localhost', '::1', '[::1]'].includes(url.hostname)) return { pids: [], why: `PostgreSQL at ${url.hostname} is not local` };
  const port = url.port || '5432';
  const base = '/var/lib/postgresql';
  const postmasters: number[] = [];
  for (const version of existsSync(base) ? readdirSync(base) : []) {
    for (const cluster of readdirSync(join(base, version))) {
      const file = join(base, version, cluster, 'postmaster.pid');
      if (!existsSync(file)) continue;
      const lines = readFileSync(file, 'utf8').split('\n');
      const pid = Number(lines[0]);
      if (lines[3]?.trim() === port && procStat(pid)?.comm === 'postgres') postmasters.push(pid);
    }
  }
  if (postmasters.length !== 1) return { pids: [], why: `found ${postmasters.length} local postmaster(s) on port ${port}` };
  const pids = [postmasters[0]];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const s = procStat(Number(entry));
    if (s && s.ppid === postmasters[0] && s.comm === 'postgres') pids.push(Number(entry));
  }
  return { pids };
}

function pausePostgres(pids: number[], seconds: number): void {
  // If this process dies without resuming (SIGKILL), the watchdog does it.
  const watchdog = spawn('sh', ['-c', `sleep ${seconds + 15}; kill -CONT ${pids.join(' ')} 2>/dev/null`], { detached: true, stdio: 'ignore' });
  watchdog.unref();
  paused = { pids, watchdog };
  for (const pid of pids) process.kill(pid, 'SIGSTOP'); // the postmaster first: it forks nothing new while stopped
}

function resumePostgres(): void {
  if (!paused) return;
  const { pids, watchdog } = paused;
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // gone
    }
  }
  paused = undefined;
  try {
    if (watchdog.pid) process.kill(-watchdog.pid, 'SIGKILL');
  } catch {
    // already done
  }
}

// ---------------------------------------------------------------------------------------------
// The analytics process

class AnalyticsProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<number | null> | undefined;

  constructor(
    readonly port: number,
    readonly logFile: string,
    private readonly env: Record<string, string>,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const out = createWriteStream(this.logFile, { flags: 'a' });
    // e.g. BENCH_ANALYTICS_NODE_ARGS="--cpu-prof --cpu-prof-dir=tmp/bench" profiles analytics (written when it exits).
    const nodeArgs = (process.env['BENCH_ANALYTICS_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
    const child = spawn(process.execPath, [...nodeArgs, '-r', '@swc-node/register', join(ROOT, 'apps', 'analytics', 'src', 'main.ts')], {
      cwd: ROOT,
      env: { ...process.env, ...this.env, PORT: String(this.port), HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stdout!.pipe(out);
    child.stderr!.pipe(out);
    let gone = false;
    this.exited = new Promise((r) => child.once('exit', (code) => ((gone = true), r(code))));
    await expectEventually(
      async () => {
        if (gone) return;
        const res = await fetch(`${this.url}/readyz`);
        if (res.status !== 200) throw new Error(`analytics not ready: ${res.status}`);
      },
      { timeoutMs: 120_000, intervalMs: 250 },
    );
    if (gone) {
      await sleep(200); // its last words reach the log
      throw new Error(`analytics exited during start: ${readFileSync(this.logFile, 'utf8').trim().split('\n').slice(-3).join(' | ')} (${this.logFile})`);
    }
  }

  /** Samples of the metric whose labels include `labels`, summed (0 when absent). */
  async metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    let total = 0;
    for (const s of await this.samples(name)) if (Object.entries(labels).every(([k, v]) => s.labels.includes(`${k}="${v}"`))) total += s.value;
    return total;
  }

  async samples(name: string): Promise<{ labels: string; value: number }[]> {
    const text = await (await fetch(`${this.url}/metrics`, { headers: controlTrust().metricsHeaders, signal: AbortSignal.timeout(5_000) })).text();
    const out: { labels: string; value: number }[] = [];
    for (const line of text.split('\n')) {
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
      if (m && m[1] === name) out.push({ labels: m[2] ?? '', value: Number(m[3]) });
    }
    return out;
  }

  /** SIGTERM; SIGKILL after the timeout. Resolves with the exit code (null when killed). */
  async stop(timeoutMs = 30_000): Promise<number | null> {
    if (!this.child || !this.exited) return null;
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), timeoutMs);
    const code = await this.exited;
    clearTimeout(timer);
    this.child = undefined;
    return code;
  }

  killNow(): void {
    if (this.child && this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

let analytics: AnalyticsProcess | undefined;

function onExit(): void {
  resumePostgres();
  analytics?.killNow();
}
process.on('exit', onExit);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    log(`${signal}: resuming PostgreSQL, stopping analytics`);
    onExit();
    process.exit(130);
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Tenants, series and records

interface Series {
  name: string;
  labels: Labels;
  /** Record key: the tenant's shard for this series, as collectors choose it. */
  key: string;
}

function seriesOf(tenant: string, n: number): Series[] {
  const regions = ['eu-west-1', 'us-east-1', 'ap-south-1'];
  return Array.from({ length: n }, (_, i) => {
    const labels = { route: `/r${i % 100}`, pod: `api-${Math.floor(i / 100)}`, region: regions[i % 3] };
    return { name: METRIC, labels, key: recordKey(tenant, SHARDS, seriesKey(METRIC, labels)) };
  });
}

/** A latency-like value (log-normal around 120 ms). */
function latencyValue(): number {
  const g = Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(2 * Math.PI * Math.random());
  return round(Math.exp(Math.log(120) + 0.4 * g), 3);
}

function telemetry(points: MetricPoint[]) {
  return { batchId: randomBytes(8).toString('hex'), source: 'bench-analytics', receivedAt: Date.now(), points, events: [] };
}

/** Records for `points` (each with its series' key), at most MAX_POINTS_PER_RECORD each, order kept per key. */
function recordsOf(tenant: string, points: { key: string; point: MetricPoint }[]) {
  const byKey = new Map<string, MetricPoint[]>();
  for (const { key, point } of points) {
    const list = byKey.get(key);
    if (list) list.push(point);
    else byKey.set(key, [point]);
  }
  const records: { tenant: string; key: string; value: ReturnType<typeof telemetry> }[] = [];
  for (const [key, list] of byKey) {
    for (let i = 0; i < list.length; i += MAX_POINTS_PER_RECORD) records.push({ tenant, key, value: telemetry(list.slice(i, i + MAX_POINTS_PER_RECORD)) });
  }
  return records;
}

function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** Approximate quantile of a Prometheus histogram (bucket upper bound) from cumulative bucket counts. */
function histogramQuantile(buckets: { le: number; count: number }[], q: number): number | null {
  const total = buckets.find((b) => b.le === Infinity)?.count ?? 0;
  if (total === 0) return null;
  for (const b of buckets) if (b.count >= q * total) return b.le;
  return null;
}

async function histogram(p: AnalyticsProcess, name: string): Promise<{ le: number; count: number }[]> {
  return (await p.samples(`${name}_bucket`))
    .map((s) => ({ le: Number(/le="([^"]+)"/.exec(s.labels)?.[1].replace('+Inf', 'Infinity')), count: s.value }))
    .sort((a, b) => a.le - b.le);
}

// ---------------------------------------------------------------------------------------------
// 1. In process

function inProcess(): Record<string, unknown> {
  log('in-process aggregation (its own process, ~1 min)…');
  const out = execFileSync(process.execPath, ['--expose-gc', '-r', '@swc-node/register', join(ROOT, 'apps', 'analytics', 'src', 'bench', 'in-process.ts')], {
    cwd: ROOT,
    timeout: 600_000,
    maxBuffer: 1 << 20,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const r = JSON.parse(out.toString()) as Record<string, Record<string, number>>;
  const t = TARGETS.inProcessPointsPerSecondPerCore;
  const figure = (x: Record<string, number>) => ({
    pointsPerSecond: x['pointsPerSecond'],
    pointsPerCpuSecond: x['pointsPerCpuSecond'],
    points: x['points'],
    closedWindows: x['closedWindows'],
    target: t,
    met: x['pointsPerSecond'] >= t,
  });
  return {
    series10k: figure(r['series10k']),
    series100k: figure(r['series100k']),
    breakdown100k: r['breakdown100k'],
    heapBytesPerActiveSeries: {
      series10k: r['heap10k']['heapBytesPerSeries'],
      series100k: r['heap100k']['heapBytesPerSeries'],
      gcExposed: Boolean(r['heap100k']['gcExposed']),
      target: TARGETS.heapBytesPerActiveSeries,
      met: r['heap100k']['heapBytesPerSeries'] <= TARGETS.heapBytesPerActiveSeries,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// 2–4. End to end

interface Ctx {
  run: string;
  databaseUrl: string;
  secrets: ReturnType<typeof localSecrets>;
  keyring: TenantKeyring;
  kafka: KafkaClient;
  control: RecordPublisher;
  publisher: RecordPublisher;
  pool: Pool;
  /** The throughput phase's tenant and the live/burst phases' tenant (fresh each run). */
  tp: string;
  live: string;
  logDir: string;
}

async function setup(): Promise<Ctx> {
  const infra = testInfra();
  const run = randomBytes(3).toString('hex');
  // A fresh KEK, as the analytics int spec does: no other analytics on the shared servers can read
  // (and window) this run's tenants, and this run's analytics cannot read theirs.
  const secrets = { ...localSecrets(), kek: randomBytes(32).toString('base64') };
  const kek = KeyEncryptionKey.fromBase64(secrets.kek);
  const keyring = new TenantKeyring(kek);
  const kafka: KafkaClient = createKafkaClient({ brokers: infra.brokers, clientId: `bench-analytics-${run}`, logger: silentLogger() });
  const ctx: Ctx = {
    run,
    databaseUrl: infra.databaseUrl,
    secrets,
    keyring,
    kafka,
    control: new RecordPublisher(kafka, undefined, undefined, { signer: controlTrust().signer }),
    publisher: new RecordPublisher(kafka, keyring, undefined, { signer: controlTrust().signer }),
    pool: new Pool({ connectionString: infra.databaseUrl, max: 2 }),
    tp: `bench-tp-${run}`,
    live: `bench-live-${run}`,
    logDir: join(ROOT, 'tmp', 'bench'),
  };
  mkdirSync(ctx.logDir, { recursive: true });
  await ctx.control.connect();
  await ctx.publisher.connect();
  await ctx.pool.query('select 1');
  // The tenants, as control publishes them: a tenant record and its wrapped data key.
  const records: ControlRecord[] = [];
  for (const tenant of [ctx.tp, ctx.live]) {
    const wrapped = createWrappedKey(kek, tenant, 'data', 1);
    keyring.add(wrapped);
    records.push(
      { kind: 'tenant', tenant, displayName: tenant, status: 'active', shards: SHARDS, locale: 'en', createdAt: new Date().toISOString() },
      { kind: 'data_key', ...wrapped, state: 'active' },
    );
  }
  await ctx.control.publish(ControlRecordMessage, records.map((r) => ({ key: controlKey(r), value: r })));
  return ctx;
}

/** Commits a fresh group's offsets at a topic's current end (before anyone joins): it starts there. */
async function startGroupAtEnd(kafka: KafkaClient, groupId: string, topic: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const ends = await admin.fetchTopicOffsets(topic);
    await admin.setOffsets({ groupId, topic, partitions: ends.map((e) => ({ partition: e.partition, offset: e.high })) });
  } finally {
    await admin.disconnect();
  }
}

/** Pre-produces the backlog: SERIES series × POINTS_PER_WINDOW points per 10 s window, recent event time. */
async function produceBacklog(ctx: Ctx): Promise<{ points: number; windows: number; records: number; tEnd: number; closers: number; seconds: number }> {
  const series = seriesOf(ctx.tp, SERIES);
  const windows = Math.max(1, Math.round(E2E_POINTS / (SERIES * POINTS_PER_WINDOW)));
  const points = windows * SERIES * POINTS_PER_WINDOW;
  const t0 = Math.floor((Date.now() - (windows * WINDOW_MS + 60_000)) / WINDOW_MS) * WINDOW_MS;
  const tEnd = t0 + windows * WINDOW_MS;
  log(`producing ${points.toLocaleString('en')} points (${SERIES} series × ${windows} windows × ${POINTS_PER_WINDOW}, ${SHARDS} shards) for ${ctx.tp}…`);
  const start = Date.now();
  let records = 0;
  for (let w = 0; w < windows; w++) {
    const batch: { key: string; point: MetricPoint }[] = [];
    for (let k = 0; k < POINTS_PER_WINDOW; k++) {
      const ts = t0 + w * WINDOW_MS + Math.floor((k * WINDOW_MS) / POINTS_PER_WINDOW);
      for (const s of series) batch.push({ key: s.key, point: { name: s.name, labels: s.labels, value: latencyValue(), timestamp: ts, unit: 'ms' } });
    }
    const recs = recordsOf(ctx.tp, batch);
    records += recs.length;
    await ctx.publisher.publish(TelemetryBatchMessage, recs);
  }
  // One point per shard past the last window's end + lateness, so every stream's watermark closes
  // the last window as in steady flow (not by the 3 s idle clock); its own series is not counted.
  const shardKeys = [...new Set(series.map((s) => s.key))];
  await ctx.publisher.publish(
    TelemetryBatchMessage,
    shardKeys.map((key) => ({ tenant: ctx.tp, key, value: telemetry([{ name: CLOSER, labels: { shard: key }, value: 1, timestamp: tEnd + LATENESS_MS + 1_000 }]) })),
  );
  const seconds = (Date.now() - start) / 1000;
  log(`produced ${records} records in ${seconds.toFixed(1)} s`);
  return { points, windows, records, tEnd, closers: shardKeys.length, seconds };
}

/** From the first point analytics consumed to the last window stored (all N points in analytics.windows_10s). */
async function measureThroughput(ctx: Ctx, a: AnalyticsProcess, backlog: Awaited<ReturnType<typeof produceBacklog>>, startedAt: number): Promise<Record<string, unknown>> {
  const { points, tEnd } = backlog;
  const at = { firstConsumed: 0, allConsumed: 0, firstStored: 0, lastStored: 0 };
  let cpu: CpuWindow | undefined;
  let cpuFigures: Record<string, number> = {};
  const storedPoints = async () =>
    Number((await ctx.pool.query<{ n: string | null }>('select sum(count) as n from analytics.windows_10s where tenant = $1 and name = $2', [ctx.tp, METRIC])).rows[0].n ?? 0);
  let stored = 0;
  const deadline = Date.now() + Math.max(300_000, (points / 10_000) * 1000);
  while (Date.now() < deadline) {
    const now = Date.now();
    if (!at.allConsumed) {
      const windowed = await a.metric('headroom_analytics_points_total', { tenant: ctx.tp, outcome: 'windowed' }).catch(() => 0);
      if (windowed > 0 && !at.firstConsumed) {
        at.firstConsumed = now;
        cpu = new CpuWindow({ analytics: a.pid, kafka: kafkaPid() });
      }
      if (windowed >= points + backlog.closers) at.allConsumed = now;
    }
    // Windows and progress are written in one statement: progress past the last window means all stored.
    const { rows } = await ctx.pool.query<{ n: string; until: string | null }>('select count(*) as n, min(closed_until) as until from analytics.progress where tenant = $1', [ctx.tp]);
    if (Number(rows[0].n) > 0 && !at.firstStored) at.firstStored = now;
    if (Number(rows[0].until ?? 0) >= tEnd && (stored = await storedPoints()) >= points) {
      at.lastStored = Date.now();
      break;
    }
    await sleep(200);
  }
  if (cpu) cpuFigures = cpu.end();
  const completed = at.lastStored > 0;
  if (!completed) stored = await storedPoints();
  const seconds = ((at.lastStored || Date.now()) - at.firstConsumed) / 1000;
  const rate = Math.round(stored / seconds);
  log(`end to end: ${stored.toLocaleString('en')} points stored in ${seconds.toFixed(1)} s → ${rate.toLocaleString('en')} points/s${completed ? '' : ' (timed out)'}`);
  return {
    pointsPerSecond: rate,
    target: TARGETS.endToEndPointsPerSecond,
    met: completed && rate >= TARGETS.endToEndPointsPerSecond,
    definition: 'points stored / (last window stored − first point consumed); the backlog was on the topic before analytics started',
    completed,
    points,
    pointsStored: stored,
    windowsStored: backlog.windows * SERIES,
    windowsPerSecond: Math.round((backlog.windows * SERIES * (stored / points)) / seconds),
    series: SERIES,
    shards: SHARDS,
    pointsPerSeriesPerWindow: POINTS_PER_WINDOW,
    records: backlog.records,
    pointsPerRecord: Math.round(points / backlog.records),
    seconds: round(seconds, 2),
    consumedPointsPerSecond: at.allConsumed ? Math.round(points / ((at.allConsumed - at.firstConsumed) / 1000)) : null,
    firstToLastStoredPointsPerSecond: at.firstStored && completed ? Math.round(points / ((at.lastStored - at.firstStored) / 1000)) : null,
    pointsPerAnalyticsCpuSecond: cpuFigures['analyticsCpuSeconds'] ? Math.round(stored / cpuFigures['analyticsCpuSeconds']) : null,
    cpu: cpuFigures,
    analyticsStartSeconds: round((at.firstConsumed - startedAt) / 1000, 1),
    produceSeconds: round(backlog.seconds, 1),
  };
}

interface RawAggregate {
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
  /** The record's timestamp: set by analytics' producer when it sent the record. */
  publishedAt: number;
  receivedAt: number;
}

/** Keeps the live tenant's aggregate records as they arrive; decoding waits until the end (it costs CPU analytics would miss). */
async function tapAggregates(ctx: Ctx): Promise<{ raw: RawAggregate[]; stop: () => Promise<void> }> {
  const groupId = `bench-aggregates-${ctx.run}`;
  await startGroupAtEnd(ctx.kafka, groupId, Topics.aggregates.name);
  const consumer = ctx.kafka.consumer({ groupId, maxWaitTimeInMs: 50, maxBytesPerPartition: Topics.aggregates.maxMessageBytes, allowAutoTopicCreation: false });
  const raw: RawAggregate[] = [];
  const joined = new Promise<void>((r) => consumer.on(consumer.events.GROUP_JOIN, () => r()));
  await consumer.connect();
  await consumer.subscribe({ topic: Topics.aggregates.name, fromBeginning: false });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const receivedAt = Date.now();
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(message.headers ?? {})) if (v !== undefined) headers[k] = String(Array.isArray(v) ? v[0] : v);
      if (headers[Headers.tenant] !== ctx.live) return;
      raw.push({ key: message.key?.toString('utf8') ?? null, value: message.value, headers, publishedAt: Number(message.timestamp), receivedAt });
    },
  });
  await Promise.race([joined, sleep(30_000)]);
  return { raw, stop: () => consumer.disconnect() };
}

/** First publication of each window (revisions aside), from the tapped records. */
function decodeWindows(ctx: Ctx, raw: RawAggregate[]): { windows: { windowStart: number; windowMs: number; publishedAt: number; receivedAt: number }[]; undecodable: number } {
  const first = new Map<string, { windowStart: number; windowMs: number; publishedAt: number; receivedAt: number }>();
  const accepted = new Set([AggregateBatchMessage.id]);
  let undecodable = 0;
  for (const r of raw) {
    const d = decodeRecord(Topics.aggregates.name, r.key, r.value, r.headers, accepted, ctx.keyring);
    if (!d.ok) {
      undecodable++;
      continue;
    }
    for (const w of (d.value as { windows: AggregateWindow[] }).windows) {
      const k = `${w.seriesId}|${w.windowStart}`;
      const seen = first.get(k);
      if (!seen || r.publishedAt < seen.publishedAt) first.set(k, { windowStart: w.windowStart, windowMs: w.windowMs, publishedAt: r.publishedAt, receivedAt: r.receivedAt });
    }
  }
  return { windows: [...first.values()], undecodable };
}

async function endToEnd(result: Record<string, unknown>): Promise<void> {
  const ctx = await setup();
  let tap: Awaited<ReturnType<typeof tapAggregates>> | undefined;
  let sampler: NodeJS.Timeout | undefined;
  try {
    // --- 2. Throughput: the backlog first, then analytics on a fresh group starting before it.
    const group = `bench-analytics-${ctx.run}`;
    await startGroupAtEnd(ctx.kafka, group, Topics.telemetry.name); // what others (or earlier runs) left there does not count
    const backlog = await produceBacklog(ctx);
    const logFile = join(ctx.logDir, `analytics-${ctx.run}.log`);
    analytics = new AnalyticsProcess(await freePort(), logFile, { ...serviceEnv('analytics', ctx.secrets, { slackApiUrl: 'http://127.0.0.1:1/api/' }), ANALYTICS_GROUP_ID: group });
    const a = analytics;
    const startedAt = Date.now();
    await a.start();
    const pid = a.pid!;
    result['analyticsLog'] = logFile;
    log(`analytics ready in ${((Date.now() - startedAt) / 1000).toFixed(1)} s (pid ${pid}, ${a.url}, log ${logFile}); consuming…`);
    result['endToEnd'] = await measureThroughput(ctx, a, backlog, startedAt);

    // --- 3. Live at the base rate: from a window's due time to its aggregate record.
    tap = await tapAggregates(ctx);
    const liveSeries = seriesOf(ctx.live, SERIES);
    const rss: { mb: number | null; heapMb: number | null; phase: 'b' | 'P' | 'a' }[] = [];
    let phase: 'b' | 'P' | 'a' = 'b';
    // RSS from /proc; V8's used heap from analytics' own metrics (best effort, up to a second old).
    const heap = { mb: null as number | null, asking: false };
    sampler = setInterval(() => {
      rss.push({ mb: rssMb(pid) ?? null, heapMb: heap.mb, phase });
      if (heap.asking) return;
      heap.asking = true;
      a.metric('headroom_nodejs_heap_size_used_bytes')
        .then((bytes) => (heap.mb = round(bytes / 1048576, 1)))
        .catch(() => (heap.mb = null))
        .finally(() => (heap.asking = false));
    }, 1_000);
    const histBefore = await histogram(a, 'headroom_analytics_close_to_persist_seconds');
    log(`live: ${BASE_RATE.toLocaleString('en')} points/s for ${LIVE_SECONDS} s over ${SERIES} series (${ctx.live})…`);
    // 5 s more at the base rate, unmeasured: the last measured windows get published before the burst
    // (and no stream goes quiet long enough for its windows to close by the clock).
    const liveRun = await produceAt(ctx.publisher, ctx.live, liveSeries, BASE_RATE, (LIVE_SECONDS + 5) * 1000);
    const liveEnd = liveRun.start + LIVE_SECONDS * 1000;
    const histAfter = await histogram(a, 'headroom_analytics_close_to_persist_seconds');

    // --- 4. 10× the base rate for PAUSE_SECONDS with every PostgreSQL process stopped.
    const pg = postgresPids(ctx.databaseUrl);
    let skipped = pg.why;
    if (!skipped && process.getuid?.() !== 0) skipped = 'not root: cannot signal the postgres processes';
    if (PAUSE_SECONDS <= 0) skipped = 'BENCH_PAUSE_SECONDS=0';
    let burst: Awaited<ReturnType<typeof produceAt>> | undefined;
    let pausedAt = 0;
    let resumedAt = 0;
    let windowedDuringPause = 0;
    if (!skipped) {
      log(`burst: ${(BASE_RATE * 10).toLocaleString('en')} points/s for ${PAUSE_SECONDS} s with PostgreSQL stopped (${pg.pids.length} processes)…`);
      const windowedBefore = await a.metric('headroom_analytics_points_total', { tenant: ctx.live, outcome: 'windowed' });
      try {
        phase = 'P';
        pausePostgres(pg.pids, PAUSE_SECONDS);
        pausedAt = Date.now();
        burst = await produceAt(ctx.publisher, ctx.live, liveSeries, BASE_RATE * 10, PAUSE_SECONDS * 1000);
        windowedDuringPause = (await a.metric('headroom_analytics_points_total', { tenant: ctx.live, outcome: 'windowed' }).catch(() => windowedBefore)) - windowedBefore;
      } finally {
        resumePostgres();
        resumedAt = Date.now();
        phase = 'a';
      }
      log(`PostgreSQL resumed after ${((resumedAt - pausedAt) / 1000).toFixed(1)} s; waiting for everything to be stored…`);
    }
    // Everything produced for the live tenant ends up stored (bounded wait), RSS sampled meanwhile.
    const expected = liveRun.points + (burst?.points ?? 0);
    let drainedAt = 0;
    let storedLive = 0;
    for (const deadline = Date.now() + 180_000; Date.now() < deadline; await sleep(1_000)) {
      storedLive = Number((await ctx.pool.query<{ n: string | null }>('select sum(count) as n from analytics.windows_10s where tenant = $1', [ctx.live])).rows[0].n ?? 0);
      if (storedLive >= expected) {
        drainedAt = Date.now();
        break;
      }
    }
    await sleep(10_000); // where RSS settles afterwards
    clearInterval(sampler);

    result['analyticsExitCode'] = await a.stop();
    await tap.stop();
    const tapped = tap.raw;
    tap = undefined;

    // Latency, computed now that analytics is stopped (decoding costs CPU).
    const due = (w: { windowStart: number; windowMs: number }) => w.windowStart + w.windowMs + LATENESS_MS;
    // Full windows of the live phase whose due time leaves 3 s before it ends (the burst follows).
    const inRange = (w: { windowStart: number; windowMs: number }) => w.windowStart >= liveRun.start && due(w) <= liveEnd - 3_000;
    const decoded = decodeWindows(ctx, tapped);
    const measured = decoded.windows.filter(inRange);
    const lat = measured.map((w) => w.publishedAt - due(w)).sort((x, y) => x - y);
    const seen = measured.map((w) => w.receivedAt - due(w)).sort((x, y) => x - y);
    const firstStart = Math.ceil(liveRun.start / WINDOW_MS) * WINDOW_MS;
    const windowsDue = Math.max(0, Math.floor((liveEnd - 3_000 - LATENESS_MS - WINDOW_MS - firstStart) / WINDOW_MS) + 1);
    const diff = histAfter.map((b) => ({ le: b.le, count: b.count - (histBefore.find((x) => x.le === b.le)?.count ?? 0) }));
    result['windowCloseToPublished'] = {
      p50Ms: percentile(lat, 0.5),
      p99Ms: percentile(lat, 0.99),
      maxMs: lat.length ? lat[lat.length - 1] : null,
      target: { p99Ms: TARGETS.closeToPublishedP99Ms },
      met: lat.length > 0 && percentile(lat, 0.99) < TARGETS.closeToPublishedP99Ms,
      definition: "aggregate record's timestamp (set by analytics' producer) − (window end + 2 s allowed lateness); first publication of each full window of the live phase",
      windows: lat.length,
      windowsExpected: windowsDue * SERIES,
      undecodableRecords: decoded.undecodable,
      seenByBenchConsumerP50Ms: percentile(seen, 0.5),
      seenByBenchConsumerP99Ms: percentile(seen, 0.99),
      analyticsCloseToPersistHistogram: {
        note: 'headroom_analytics_close_to_persist_seconds over the live phase: closed in memory → published and stored (bucket upper bounds)',
        p50LeSeconds: histogramQuantile(diff, 0.5),
        p99LeSeconds: histogramQuantile(diff, 0.99),
        windows: diff.find((b) => b.le === Infinity)?.count ?? 0,
      },
      baseRatePointsPerSecond: BASE_RATE,
      achievedRatePointsPerSecond: Math.round(liveRun.points / liveRun.seconds),
      liveSeconds: LIVE_SECONDS,
    };

    const mb = (p: 'b' | 'P' | 'a') => rss.filter((s) => s.phase === p && s.mb !== null).map((s) => s.mb!);
    const during = mb('P');
    // Plateau: over the last third of the pause, RSS stays within 5 % of the max of the middle third.
    const third = Math.floor(during.length / 3);
    const plateaued = third >= 2 && Math.max(...during.slice(-third)) <= 1.05 * Math.max(...during.slice(-2 * third, -third));
    const max = (xs: number[]) => (xs.length ? Math.max(...xs) : null);
    result['burstWithPostgresPaused'] = skipped
      ? { skipped }
      : {
          rssMaxMb: max(rss.filter((s) => s.mb !== null).map((s) => s.mb!)),
          rssLiveMaxMb: max(mb('b')),
          rssPauseMaxMb: max(during),
          rssAfterMaxMb: max(mb('a')),
          rssEndMb: rss.length ? rss[rss.length - 1].mb : null,
          plateaued,
          target: 'RSS plateaus during the burst',
          plateauRule: 'max RSS over the last third of the pause ≤ 1.05 × max over the middle third',
          postgresPausedSeconds: round((resumedAt - pausedAt) / 1000, 1),
          postgresProcessesStopped: pg.pids.length,
          baseRatePointsPerSecond: BASE_RATE,
          burstRatePointsPerSecond: BASE_RATE * 10,
          achievedBurstRatePointsPerSecond: burst ? Math.round(burst.points / burst.seconds) : null,
          consumedDuringPausePointsPerSecond: round(windowedDuringPause / Math.max(0.001, (resumedAt - pausedAt) / 1000)),
          burstPoints: burst?.points ?? 0,
          storedSecondsAfterResume: drainedAt ? round((drainedAt - resumedAt) / 1000, 1) : null,
          allStored: storedLive >= expected,
          pointsExpected: expected,
          pointsStored: storedLive,
          rssMbEverySecond: rss.map((s) => s.mb),
          heapUsedMbEverySecond: rss.map((s) => s.heapMb),
          rssPhases: rss.map((s) => s.phase).join(''),
          rssLegend: 'one sample a second from the start of the live phase (RSS, and V8 heap used as analytics last reported it); b = live at the base rate, P = burst with PostgreSQL stopped, a = after resume',
        };
  } finally {
    if (sampler) clearInterval(sampler);
    resumePostgres();
    await tap?.stop().catch(() => undefined);
    await analytics?.stop().catch(() => undefined);
    if (!KEEP_DATA) {
      // The run's rows, and its tenants on the control topic (tombstones: compaction drops them).
      await cleanup(ctx.pool, [ctx.tp, ctx.live]).catch((err) => log(`cleanup failed: ${String(err)}`));
      await ctx.control
        .publish(ControlRecordMessage, [ctx.tp, ctx.live].flatMap((t) => [{ key: `data_key/${t}/data/1`, value: null }, { key: `tenant/${t}`, value: null }]))
        .catch((err) => log(`control tombstones failed: ${String(err)}`));
    }
    await ctx.control.disconnect().catch(() => undefined);
    await ctx.publisher.disconnect().catch(() => undefined);
    await ctx.pool.end().catch(() => undefined);
  }
}

async function cleanup(pool: Pool, tenants: string[]): Promise<void> {
  for (const table of ['analytics.windows_10s', 'analytics.windows_1m', 'analytics.windows_1h', 'analytics.progress', 'analytics.rollup_queue']) {
    await pool.query(`delete from ${table} where tenant = any($1::text[])`, [tenants]);
  }
}

/**
 * Produces `rate` points/s for `ms` with current timestamps, cycling over `series` (each record per
 * shard key), in 100 ms ticks; a tick that fell behind catches up by at most 3 ticks' worth.
 */
async function produceAt(publisher: RecordPublisher, tenant: string, series: Series[], rate: number, ms: number): Promise<{ points: number; seconds: number; start: number }> {
  const tick = 100;
  const start = Date.now();
  const cap = Math.ceil((rate * tick) / 1000) * 3;
  let sent = 0;
  let cursor = 0;
  for (let now = Date.now(); now - start < ms; now = Date.now()) {
    const n = Math.min(Math.floor((rate * (now - start)) / 1000) - sent, cap);
    if (n > 0) {
      const batch: { key: string; point: MetricPoint }[] = [];
      for (let j = 0; j < n; j++) {
        const s = series[cursor];
        cursor = (cursor + 1) % series.length;
        batch.push({ key: s.key, point: { name: s.name, labels: s.labels, value: latencyValue(), timestamp: now, unit: 'ms' } });
      }
      await publisher.publish(TelemetryBatchMessage, recordsOf(tenant, batch));
      sent += n;
    }
    const next = start + (Math.floor((Date.now() - start) / tick) + 1) * tick;
    await sleep(Math.max(0, next - Date.now()));
  }
  return { points: sent, seconds: (Date.now() - start) / 1000, start };
}

// ---------------------------------------------------------------------------------------------

function gitState(): { commit: string; dirtyFiles: number } {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain'], { cwd: ROOT }).toString().split('\n').filter(Boolean).length;
    return { commit, dirtyFiles: dirty };
  } catch {
    return { commit: 'unknown', dirtyFiles: -1 };
  }
}

async function main(): Promise<void> {
  const result: Record<string, unknown> = {
    machine: { cpu: cpus()[0]?.model, cores: cpus().length, node: process.version, loadAverageAtStart: loadavg().map((l) => round(l, 2)), git: gitState() },
  };
  let failed = false;
  try {
    if (ONLY !== 'e2e') result['inProcess'] = inProcess();
    if (ONLY !== 'in-process') await endToEnd(result);
  } catch (err) {
    failed = true;
    result['error'] = String((err as Error)?.stack ?? err);
  } finally {
    resumePostgres();
  }
  (result['machine'] as Record<string, unknown>)['loadAverageAtEnd'] = loadavg().map((l) => round(l, 2));
  result['benchSeconds'] = round((Date.now() - began) / 1000, 1);
  // Arrays of plain values on one line each.
  console.log(JSON.stringify(result, null, 2).replace(/\[\n\s+([^[\]{}]*?)\n\s*\]/g, (_m, inner: string) => `[${inner.split(/,\n\s+/).join(', ')}]`));
  process.exit(failed ? 1 : 0);
}

void main();
