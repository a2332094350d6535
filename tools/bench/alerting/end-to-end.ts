/**
 * The alerting app end to end, as its own process (apps/alerting/src/main.ts, as `npm start` runs
 * it), on the real Kafka, PostgreSQL and Redis: sealed aggregate windows published by this process,
 * notifications received by local webhook receivers (one per tenant, one of which answers 503 to
 * every request), alert events tapped on headroom.alerts.v1 to split the latency in two.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Pool } from 'pg';
import {
  AggregateBatchMessage,
  AlertEventMessage,
  ControlRecordMessage,
  controlKey,
  Headers,
  Topics,
  type AggregateWindow,
  type AlertEvent,
  type ControlRecord,
} from '@headroom/contracts';
import { createWrappedKey, KeyEncryptionKey, TenantKeyring } from '@headroom/crypto';
import { createKafkaClient, decodeRecord, RecordPublisher, type KafkaClient } from '@headroom/kafka';
import { generateApiKey } from '@headroom/tenancy';
import { expectEventually, ROOT, serviceEnv, silentLogger, testInfra, WebhookReceiver, controlTrust, localSecrets } from '@headroom/testing';

/** The bench's settle when none is given: alerting's own default (ALERTING_SETTLE_MS in apps/alerting/src/config.ts). */
const DEFAULT_SETTLE_MS = 300;

export interface EndToEndOptions {
  /** Tenants of the phase with the failing one (the last of them); the comparison phase has one fewer. */
  tenants: number;
  seconds: number;
  warmupSeconds: number;
  /** Each tenant publishes an instant this often (staggered across tenants). */
  instantMs: number;
  /** New alert episodes per tenant instant; each fires, stays EPISODE_INSTANTS instants, then resolves. */
  episodesPerInstant: number;
  episodeInstants: number;
  /** Series always below the threshold, in every instant of every tenant. */
  quietSeries: number;
  groupWait: string;
  groupInterval: string;
  /** ALERTING_SETTLE_MS given to the app; undefined = DEFAULT_SETTLE_MS. */
  settleMs?: number;
  nodeArgs: string[];
  /** First of the ports listened on: receivers from here, the app on base + 20. */
  portBase: number;
}

type Log = (msg: string) => void;

const WINDOW_MS = 10_000;
const SECRET = 'whsec-bench-0123456789abcdef';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (v: number, digits = 0) => Math.round(v * 10 ** digits) / 10 ** digits;

export function percentile(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

function stats(values: number[]): { n: number; p50Ms: number | null; p99Ms: number | null; maxMs: number | null } {
  const s = [...values].sort((a, b) => a - b);
  return { n: s.length, p50Ms: percentile(s, 0.5), p99Ms: percentile(s, 0.99), maxMs: s.length ? s[s.length - 1] : null };
}

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

function cpuSecondsOf(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return undefined;
  }
}

function rssMb(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? round(Number(m[1]) / 1024, 1) : undefined;
  } catch {
    return undefined;
  }
}

/** The app as a process; ServiceProcess would do, but the bench reads the process's CPU time from /proc. */
class AlertingProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<number | null> | undefined;

  constructor(
    readonly port: number,
    readonly logFile: string,
    private readonly env: Record<string, string>,
    private readonly nodeArgs: string[],
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const out = createWriteStream(this.logFile, { flags: 'a' });
    const child = spawn(process.execPath, [...this.nodeArgs, '-r', '@swc-node/register', join(ROOT, 'apps', 'alerting', 'src', 'main.ts')], {
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
        if (res.status !== 200) throw new Error(`alerting not ready: ${res.status}`);
      },
      { timeoutMs: 120_000, intervalMs: 250 },
    );
    if (gone) {
      await sleep(200); // its last words reach the log
      const last = readFileSync(this.logFile, 'utf8').trim().split('\n').at(-1) ?? '';
      throw new Error(`alerting exited during start: ${last.slice(0, 300)} (log ${this.logFile})`);
    }
  }

  async metricsText(): Promise<string> {
    return (await fetch(`${this.url}/metrics`, { headers: controlTrust().metricsHeaders, signal: AbortSignal.timeout(5_000) })).text();
  }

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

/** Sums the samples of a Prometheus metric whose label text contains every `match`. */
function metricSum(text: string, name: string, ...match: string[]): number {
  let total = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m && m[1] === name && match.every((x) => (m[2] ?? '').includes(x))) total += Number(m[3]);
  }
  return total;
}

interface Ctx {
  run: string;
  kek: KeyEncryptionKey;
  keyring: TenantKeyring;
  kafka: KafkaClient;
  control: RecordPublisher;
  data: RecordPublisher;
  pool: Pool;
  app: AlertingProcess;
  log: Log;
  opts: EndToEndOptions;
}

/** Commits a fresh group's offsets at a topic's current end: the group starts there, whenever it joins. */
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

interface TappedEvent {
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

/** Keeps this run's alert events as they pass; decoded at the end (decoding costs CPU the app would miss). */
async function tapAlerts(ctx: Ctx, mine: (tenant: string) => boolean): Promise<{ raw: TappedEvent[]; stop: () => Promise<void> }> {
  const groupId = `bench-alerting-tap-${ctx.run}`;
  await startGroupAtEnd(ctx.kafka, groupId, Topics.alerts.name);
  const consumer = ctx.kafka.consumer({ groupId, maxWaitTimeInMs: 50, allowAutoTopicCreation: false });
  const raw: TappedEvent[] = [];
  const joined = new Promise<void>((r) => consumer.on(consumer.events.GROUP_JOIN, () => r()));
  await consumer.connect();
  await consumer.subscribe({ topic: Topics.alerts.name, fromBeginning: false });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(message.headers ?? {})) if (v !== undefined) headers[k] = String(Array.isArray(v) ? v[0] : v);
      if (!mine(headers[Headers.tenant] ?? '')) return;
      raw.push({ key: message.key?.toString('utf8') ?? null, value: message.value, headers });
    },
  });
  await Promise.race([joined, sleep(30_000)]);
  return { raw, stop: () => consumer.disconnect() };
}

// ---------------------------------------------------------------------------------------------
// One phase: fresh tenants, each with its receiver, alerts firing and resolving at a steady rate

interface Tenant {
  id: string;
  receiver: WebhookReceiver;
  failing: boolean;
  apiKey: string;
}

/** When each transition's instant was published: `${tenant}|${route}|firing|resolved`. */
type Published = Map<string, number>;

async function createTenants(ctx: Ctx, prefix: string, n: number, failing: boolean, portOffset: number): Promise<Tenant[]> {
  const at = new Date().toISOString();
  const tenants: Tenant[] = [];
  const records: ControlRecord[] = [];
  for (let i = 0; i < n; i++) {
    const id = `${prefix}-${ctx.run}-${String(i).padStart(2, '0')}`;
    const receiver = new WebhookReceiver();
    await receiver.start(ctx.opts.portBase + portOffset + i);
    const isFailing = failing && i === n - 1;
    // "Answers 503 for the whole run": far more answers than a run's backoff allows attempts.
    if (isFailing) receiver.answerNext(10_000, 503);
    const key = createWrappedKey(ctx.kek, id, 'data', 1);
    ctx.keyring.add(key);
    const api = generateApiKey();
    records.push(
      { kind: 'tenant', tenant: id, displayName: id, status: 'active', shards: 1, locale: 'en', createdAt: at },
      { kind: 'data_key', ...key, state: 'active' },
      {
        kind: 'alert_config',
        tenant: id,
        rules: [{ id: 'HighLatency', metric: 'api_latency_ms', stat: 'p95', op: '>', threshold: 250, severity: 'critical' }],
        // One group per route: every episode opens its own group, so its first notification waits
        // group_wait exactly, and its resolution the group's next group_interval tick.
        routing: {
          route: { receiver: 'hook', group_by: ['alertname', 'route'], group_wait: ctx.opts.groupWait, group_interval: ctx.opts.groupInterval, repeat_interval: '1h' },
          receivers: [{ name: 'hook', webhook_configs: [{ url: receiver.url(), secret: SECRET }] }],
        } as never,
        updatedAt: at,
      },
      { kind: 'api_key', keyId: api.keyId, tenant: id, secretHash: api.secretHash, scopes: ['admin'], createdAt: at },
    );
    tenants.push({ id, receiver, failing: isFailing, apiKey: api.secret });
  }
  await ctx.control.publish(ControlRecordMessage, records.map((value) => ({ key: controlKey(value), value })));
  // The control topic has one partition: once the last tenant's API key works, every record before it is applied.
  const last = tenants[tenants.length - 1];
  await expectEventually(
    async () => {
      const res = await fetch(`${ctx.app.url}/v1/alert-groups`, { headers: { authorization: `Bearer ${last.apiKey}` } });
      if (res.status !== 200) throw new Error(`tenant not known yet: ${res.status}`);
    },
    { timeoutMs: 60_000, intervalMs: 200 },
  );
  return tenants;
}

const lat = (route: string, instant: number, t0: number, p95: number): AggregateWindow => ({
  series: { name: 'api_latency_ms', labels: { route } },
  seriesId: `lat${route.replace(/[^a-z0-9-]/gi, '-')}`,
  windowStart: t0 + instant * WINDOW_MS,
  windowMs: WINDOW_MS,
  count: 20,
  sum: 20 * p95,
  min: 1,
  max: p95 * 2,
  p50: p95 / 2,
  p95,
  p99: p95 * 1.5,
});

/**
 * Each tenant publishes one instant every instantMs (tenants staggered evenly): its quiet series,
 * the episodes still breaching, and those resolving (back below the threshold, once). New episodes
 * start only while at least episodeInstants instants remain, so every episode resolves in the run.
 */
async function drive(
  ctx: Ctx,
  tenants: Tenant[],
  seconds: number,
): Promise<{ published: Published; episodes: number; instants: number; seconds: number; startedAt: number; publishMsP99: number | null }> {
  const { instantMs, episodesPerInstant, episodeInstants, quietSeries } = ctx.opts;
  const published: Published = new Map();
  // Windows five times faster than the wall clock (10 s windows every 2 s), starting far enough back to stay in the past.
  const t0 = Math.floor(Date.now() / WINDOW_MS) * WINDOW_MS - Math.ceil((seconds * 1000 * WINDOW_MS) / instantMs / WINDOW_MS + 60) * WINDOW_MS;
  const instants = Math.max(episodeInstants + 2, Math.floor((seconds * 1000) / instantMs));
  const lastStart = instants - episodeInstants - 1;
  const start = Date.now() + 200;
  const schedule: { at: number; tenant: Tenant; instant: number }[] = [];
  for (let k = 0; k < instants; k++) tenants.forEach((tenant, i) => schedule.push({ at: start + k * instantMs + Math.floor((i * instantMs) / tenants.length), tenant, instant: k }));
  schedule.sort((a, b) => a.at - b.at);
  const publishMs: number[] = [];
  let episodes = 0;
  for (const s of schedule) {
    const wait = s.at - Date.now();
    if (wait > 0) await sleep(wait);
    const windows: AggregateWindow[] = [];
    for (let q = 0; q < quietSeries; q++) windows.push(lat(`/quiet-${q}`, s.instant, t0, 100));
    const transitions: string[] = [];
    for (let k = Math.max(0, s.instant - episodeInstants); k <= Math.min(s.instant, lastStart); k++) {
      for (let j = 0; j < episodesPerInstant; j++) {
        const route = `/e${k}-${j}`;
        const resolving = s.instant === k + episodeInstants;
        windows.push(lat(route, s.instant, t0, resolving ? 100 : 400));
        if (s.instant === k) transitions.push(`${s.tenant.id}|${route}|firing`);
        if (resolving) transitions.push(`${s.tenant.id}|${route}|resolved`);
      }
    }
    if (s.instant <= lastStart) episodes += episodesPerInstant;
    // The window's publication time: just before the producer call (its own latency counts).
    const at = Date.now();
    await ctx.data.publish(AggregateBatchMessage, [{ tenant: s.tenant.id, value: { windows } }]);
    publishMs.push(Date.now() - at);
    for (const t of transitions) published.set(t, at);
  }
  publishMs.sort((a, b) => a - b);
  return { published, episodes: episodes / tenants.length, instants, seconds: (Date.now() - start) / 1000, startedAt: start, publishMsP99: percentile(publishMs, 0.99) };
}

interface Received {
  tenant: string;
  route: string;
  state: 'firing' | 'resolved';
  receivedAt: number;
}

function received(tenant: Tenant): Received[] {
  const out: Received[] = [];
  for (const d of tenant.receiver.accepted()) {
    const body = WebhookReceiver.parse<{ alerts: { status: 'firing' | 'resolved'; labels: Record<string, string> }[]; headroom: { tenant: string } }>(d);
    if (body.headroom.tenant !== tenant.id) continue;
    for (const a of body.alerts) out.push({ tenant: tenant.id, route: a.labels['route'] ?? '', state: a.status, receivedAt: d.receivedAt });
  }
  return out;
}

async function phase(ctx: Ctx, name: string, n: number, withFailing: boolean, seconds: number, tap: TappedEvent[]): Promise<Record<string, unknown>> {
  const { log } = ctx;
  const tenants = await createTenants(ctx, `bench-al-${name}`, n, withFailing, 0);
  const healthy = tenants.filter((t) => !t.failing);
  const failing = tenants.find((t) => t.failing);
  const metricsBefore = await ctx.app.metricsText();
  const cpuBefore = cpuSecondsOf(ctx.app.pid);
  const tapFrom = tap.length;
  log(`${name}: ${healthy.length} healthy tenant(s)${failing ? ' + 1 answering 503' : ''}, ${seconds} s…`);
  const load = await drive(ctx, tenants, seconds);
  const expected = healthy.length * load.episodes * 2;
  const got = () => healthy.reduce((k, t) => k + received(t).length, 0);
  const drainStart = Date.now();
  for (const deadline = Date.now() + 30_000; Date.now() < deadline && got() < expected; ) await sleep(200);
  const drainSeconds = (Date.now() - drainStart) / 1000;
  await sleep(1_000); // the app records a send after the receiver answered: let the last ones land in its metrics
  const cpuAfter = cpuSecondsOf(ctx.app.pid);
  const rss = rssMb(ctx.app.pid);
  const metricsAfter = await ctx.app.metricsText();
  const failingRows = failing
    ? (await ctx.pool.query<{ status: string; n: string }>('select status, count(*) as n from alerting.outbox where tenant = $1 group by status', [failing.id])).rows
    : [];

  // Latencies per notification (one alert per group, so one alert per notification).
  const rows = healthy.flatMap(received);
  const firing: number[] = [];
  const resolved: number[] = [];
  const slowest: { latencyMs: number; atS: number }[] = [];
  let unmatched = 0;
  const firstReceived = new Map<string, number>();
  for (const r of rows) {
    const key = `${r.tenant}|${r.route}|${r.state}`;
    const at = load.published.get(key);
    if (at === undefined) {
      unmatched++;
      continue;
    }
    if (!firstReceived.has(key)) firstReceived.set(key, r.receivedAt);
    (r.state === 'firing' ? firing : resolved).push(r.receivedAt - at);
    if (r.state === 'firing') slowest.push({ latencyMs: r.receivedAt - at, atS: round((r.receivedAt - load.startedAt) / 1000, 1) });
  }
  slowest.sort((a, b) => b.latencyMs - a.latencyMs).splice(5);
  const duplicates = rows.length - unmatched - firstReceived.size;

  // The alert events of this phase, decoded now: when evaluation decided each transition.
  const observed = new Map<string, number>();
  for (const e of tap.slice(tapFrom)) {
    const d = decodeRecord(Topics.alerts.name, e.key, e.value, e.headers, new Set([AlertEventMessage.id]), ctx.keyring);
    if (!d.ok) continue;
    const ev = d.value as AlertEvent;
    const key = `${e.headers[Headers.tenant]}|${ev.labels['route'] ?? ''}|${ev.state}`;
    if (ev.observedAt !== undefined && !observed.has(key)) observed.set(key, ev.observedAt);
  }
  const toEvaluated: number[] = [];
  const evaluatedToReceived: number[] = [];
  for (const [key, recv] of firstReceived) {
    if (!key.endsWith('|firing')) continue;
    const obs = observed.get(key);
    if (obs === undefined) continue;
    toEvaluated.push(obs - load.published.get(key)!);
    evaluatedToReceived.push(recv - obs);
  }

  const groupWaitMs = parseMs(ctx.opts.groupWait);
  const settleMs = ctx.opts.settleMs ?? DEFAULT_SETTLE_MS;
  const f = stats(firing);
  const minus = (v: number | null, d: number) => (v === null ? null : v - d);
  const sentDelta = (text: string) => metricSum(text, 'headroom_alerting_notifications_total', 'outcome="sent"');
  const result = {
    tenants: { healthy: healthy.length, failing: failing ? 1 : 0 },
    firingNotifications: {
      ...f,
      beyondGroupWaitP50Ms: minus(f.p50Ms, groupWaitMs),
      beyondGroupWaitP99Ms: minus(f.p99Ms, groupWaitMs),
      beyondGroupWaitMaxMs: minus(f.maxMs, groupWaitMs),
      beyondGroupWaitAndSettleP50Ms: minus(f.p50Ms, groupWaitMs + settleMs),
      beyondGroupWaitAndSettleP99Ms: minus(f.p99Ms, groupWaitMs + settleMs),
    },
    resolvedNotifications: { ...stats(resolved), note: `sent at the group's next group_interval tick (${ctx.opts.groupInterval}) after the resolving instant is judged` },
    firingSplit: {
      note: "from the tapped headroom.alerts.v1 events: window published → evaluation decided (observedAt), and → receiver had the notification",
      publishedToEvaluated: stats(toEvaluated),
      evaluatedToReceived: stats(evaluatedToReceived),
    },
    notificationsPerSecond: round(rows.length / (load.seconds + drainSeconds), 1),
    notificationsReceived: rows.length,
    notificationsExpected: expected,
    unmatched,
    duplicates,
    notificationsSentByApp: sentDelta(metricsAfter) - sentDelta(metricsBefore),
    // Any alerting instance on the same PostgreSQL claims due outbox entries: more received than this app sent means another one took part.
    sentByAnotherInstance: Math.max(0, rows.length - (sentDelta(metricsAfter) - sentDelta(metricsBefore))),
    slowestFiring: { note: 'the 5 slowest healthy firing notifications: latency and when received (s from the phase start)', top: slowest },
    rateLimitedByApp: metricSum(metricsAfter, 'headroom_alerting_notifications_total', 'outcome="rate_limited"') - metricSum(metricsBefore, 'headroom_alerting_notifications_total', 'outcome="rate_limited"'),
    transitionsPerSecondOffered: round((2 * load.episodes * tenants.length) / load.seconds, 1),
    instantsPerTenant: load.instants,
    episodesPerTenant: load.episodes,
    loadSeconds: round(load.seconds, 1),
    drainSeconds: round(drainSeconds, 1),
    publishCallP99Ms: load.publishMsP99,
    ...(failing
      ? {
          failingTenant: {
            attempts: failing.receiver.deliveries.length,
            attemptsAtS: failing.receiver.deliveries.map((d) => round((d.receivedAt - load.startedAt) / 1000, 1)),
            answered: [...new Set(failing.receiver.deliveries.map((d) => d.status))],
            outboxByStatus: Object.fromEntries(failingRows.map((r) => [r.status, Number(r.n)])),
          },
        }
      : {}),
    app: { cpuSeconds: cpuBefore !== undefined && cpuAfter !== undefined ? round(cpuAfter - cpuBefore, 2) : null, rssMbAtEnd: rss ?? null },
  };
  log(`${name}: firing p50 ${f.p50Ms} ms, p99 ${f.p99Ms} ms (${f.n} notifications; ${rows.length}/${expected} received)`);

  // The phase's tenants go away (erasure): the failing one stops retrying, nothing is left in the tables or in Redis.
  const erasedAt = new Date().toISOString();
  await ctx.control.publish(
    ControlRecordMessage,
    tenants.map((t) => {
      const value: ControlRecord = { kind: 'tenant_erased', tenant: t.id, erasedAt };
      return { key: controlKey(value), value };
    }),
  );
  await sleep(2_000);
  for (const t of tenants) await t.receiver.stop();
  return result;
}

function parseMs(d: string): number {
  const m = /^(\d+)(ms|s|m)$/.exec(d);
  if (!m) return d === '0' ? 0 : NaN;
  return Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 's' ? 1_000 : 60_000);
}

let running: AlertingProcess | undefined;

/** For the caller's signal handlers: the app must not outlive the bench. */
export function killAlerting(): void {
  running?.killNow();
}

/** Other processes that look like an alerting instance or its int specs (they would share the outbox): a warning, not a guard. */
function otherAlertingProcesses(): string[] {
  const out: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').trim();
      if (/apps\/alerting\/src\/main\.ts|jest.*(apps\/alerting|dispatch|alerting)/.test(cmd) && !cmd.startsWith('sh ') && !cmd.includes('npm exec')) out.push(`${entry}: ${cmd.slice(0, 120)}`);
    } catch {
      // gone
    }
  }
  return out;
}

export async function endToEnd(opts: EndToEndOptions, log: Log): Promise<Record<string, unknown>> {
  const others = otherAlertingProcesses();
  if (others.length > 0) log(`warning: other alerting instances may share the outbox: ${others.join(' | ')}`);
  const infra = testInfra();
  const run = randomBytes(3).toString('hex');
  // A fresh KEK, as the int specs do: no other alerting on the shared servers can read this run's
  // tenants (and the other way round).
  const kekBase64 = randomBytes(32).toString('base64');
  const kek = KeyEncryptionKey.fromBase64(kekBase64);
  const keyring = new TenantKeyring(kek);
  const kafka = createKafkaClient({ brokers: infra.brokers, clientId: `bench-alerting-${run}`, logger: silentLogger() });
  const logDir = join(ROOT, 'tmp', 'bench');
  mkdirSync(logDir, { recursive: true });
  const groupId = `bench-alerting-${run}`;
  // Its own database: every alerting instance claims due groups and outbox entries of any tenant,
  // so on the shared one the bench's app would send (and fail) the int specs' notifications, and
  // theirs would send the bench's. The app creates its schema at boot; the database goes at the end.
  const database = process.env['BENCH_DATABASE'] ?? 'headroom_bench_alerting';
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(database)) throw new Error(`BENCH_DATABASE must be a plain lowercase identifier, not ${database}`);
  const adminPool = new Pool({ connectionString: infra.databaseUrl, max: 1 });
  await adminPool.query(`create database ${database}`).catch((err: { code?: string }) => {
    if (err.code !== '42P04') throw err; // exists (an earlier run stopped before dropping it)
  });
  const databaseUrl = Object.assign(new URL(infra.databaseUrl), { pathname: `/${database}` }).toString();
  const env = {
    ...serviceEnv('alerting', { ...localSecrets(), kek: kekBase64, adminToken: 'unused', slackToken: 'xoxb-bench-unused' }, { slackApiUrl: 'http://127.0.0.1:5599/api/' }),
    ALERTING_GROUP_ID: groupId,
    ALERTING_EGRESS_ALLOW: '127.0.0.0/8',
    DATABASE_URL: databaseUrl,
    // Always explicit, so the figure printed is the one the app ran with.
    ALERTING_SETTLE_MS: String(opts.settleMs ?? DEFAULT_SETTLE_MS),
  };
  const app = new AlertingProcess(opts.portBase + 20, join(logDir, `alerting-${run}.log`), env, opts.nodeArgs);
  const ctx: Ctx = {
    run,
    kek,
    keyring,
    kafka,
    control: new RecordPublisher(kafka, undefined, undefined, { signer: controlTrust().signer }),
    data: new RecordPublisher(kafka, keyring, undefined, { signer: controlTrust().signer }),
    pool: new Pool({ connectionString: databaseUrl, max: 2 }),
    app,
    log,
    opts,
  };
  const prefix = `bench-al-`;
  let tap: Awaited<ReturnType<typeof tapAlerts>> | undefined;
  try {
    await ctx.control.connect();
    await ctx.data.connect();
    // Both of the app's groups start at the topics' current ends before it joins: nothing is missed, nothing older is read.
    await startGroupAtEnd(kafka, groupId, Topics.aggregates.name);
    await startGroupAtEnd(kafka, `${groupId}-dispatch`, Topics.alerts.name);
    tap = await tapAlerts(ctx, (t) => t.startsWith(prefix) && t.includes(`-${run}-`));
    const startedAt = Date.now();
    running = app;
    // Boot can lose a race ("Redis is already connecting/connected": a replayed tenant_erased record
    // reaches Redis before the module connects it): counted, reported and retried, not hidden.
    const bootFailures: string[] = [];
    for (;;) {
      try {
        await app.start();
        break;
      } catch (err) {
        bootFailures.push(String((err as Error).message ?? err));
        log(`boot failed (${bootFailures.length}): ${bootFailures[bootFailures.length - 1]}`);
        await app.stop().catch(() => undefined);
        if (bootFailures.length >= 5) throw err;
      }
    }
    log(`alerting ready in ${((Date.now() - startedAt) / 1000).toFixed(1)} s (pid ${app.pid}, ${app.url}, log ${app.logFile})`);
    if (opts.warmupSeconds > 0) {
      log(`warm-up: ${opts.warmupSeconds} s, not measured`);
      await phase(ctx, 'warm', Math.max(2, Math.floor(opts.tenants / 4)), false, opts.warmupSeconds, tap.raw);
    }
    const withFailing = await phase(ctx, 'fail', opts.tenants, true, opts.seconds, tap.raw);
    const without = await phase(ctx, 'ok', opts.tenants - 1, false, opts.seconds, tap.raw);
    const exitCode = await app.stop();
    running = undefined;
    return {
      withFailingTenant: withFailing,
      withoutFailingTenant: without,
      setup: {
        groupWait: opts.groupWait,
        groupWaitMs: parseMs(opts.groupWait),
        groupInterval: opts.groupInterval,
        settleMs: opts.settleMs ?? DEFAULT_SETTLE_MS,
        settleNote:
          "ALERTING_SETTLE_MS: an instant is judged when the tenant's next instant arrives or settleMs after its last window; each tenant publishes an instant every " +
          `${opts.instantMs} ms (> settleMs), so every instant here is judged by the settle timer, as in production where instants are 10 s apart`,
        instantMs: opts.instantMs,
        episodesPerInstant: opts.episodesPerInstant,
        episodeInstants: opts.episodeInstants,
        quietSeriesPerTenant: opts.quietSeries,
        definition: 'receiver had the request (receivedAt) − just before the bench called publish for the instant whose window made the transition',
        appRunsAs: 'its own process (apps/alerting/src/main.ts), default dispatcher settings (poll 100 ms, concurrency 32, 8 attempts, backoff 1 s…5 min, 120 notifications/min per receiver)',
        appLog: app.logFile,
        appBootFailures: bootFailures,
        otherAlertingProcessesAtStart: others,
        database: `${database} (created for the run, dropped after)`,
        appExitCode: exitCode,
      },
    };
  } finally {
    await tap?.stop().catch(() => undefined);
    await app.stop().catch(() => undefined);
    running = undefined;
    await ctx.control.disconnect().catch(() => undefined);
    await ctx.data.disconnect().catch(() => undefined);
    await ctx.pool.end().catch(() => undefined);
    await adminPool.query(`drop database if exists ${database} with (force)`).catch((err) => log(`could not drop ${database}: ${String(err)}`));
    await adminPool.end().catch(() => undefined);
  }
}
