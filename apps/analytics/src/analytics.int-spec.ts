/**
 * Analytics as a process on the real Kafka and PostgreSQL: the at-least-once claims of
 * docs/architecture.md (Records, Failures, Windows), tried from outside. Tenants are made by
 * publishing control records directly; telemetry is sealed with this file's own keyring.
 *
 * The KEK is fresh per run (the other local secrets are kept): an analytics process started by
 * someone else on the shared servers (npm start, the e2e spec) can then not decrypt, window and
 * upsert these tenants' records, which would hide a lost window in the crash test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Pool } from 'pg';
import {
  AggregateBatchMessage,
  ControlRecordMessage,
  SignalBatchMessage,
  type SignalBatch,
  controlKey,
  DlqRecordSchema,
  Headers,
  TelemetryBatchMessage,
  Topics,
  type AggregateWindow,
  type ControlRecord,
  type DlqRecord,
  type MetricPoint,
  type TenantLimitOverrides,
} from '@headroom/contracts';
import { createWrappedKey, KeyEncryptionKey, TenantKeyring } from '@headroom/crypto';
import { CODEC_SEALED, CODEC_SEALED_UNCOMPRESSED, createKafkaClient, decodeRecord, newTraceparent, produceRawRecords, readRawRecords, RecordPublisher, tenantOfKey, type RawRecord } from '@headroom/kafka';
import { expectEventually, localSecrets, ROOT, serviceEnv, silentLogger, testInfra, uniqueId, controlTrust } from '@headroom/testing';

const run = randomBytes(3).toString('hex');
const groupPrefix = `analytics-int-${run}`;
const secrets = { ...localSecrets(), kek: randomBytes(32).toString('base64') };
const kek = KeyEncryptionKey.fromBase64(secrets.kek);
const keyring = new TenantKeyring(kek);
const infra = testInfra();
const kafka = createKafkaClient({ brokers: infra.brokers, clientId: groupPrefix, logger: silentLogger() });
const controlPublisher = new RecordPublisher(kafka, undefined, undefined, { signer: controlTrust().signer });
const telemetryPublisher = new RecordPublisher(kafka, keyring, undefined, { signer: controlTrust().signer });
const pool = new Pool({ connectionString: infra.databaseUrl, max: 2 });
const WINDOW_MS = 10_000;
// Event time well in the past, aligned to the default 10 s windows: windows close by idleness
// (3 s of wall clock), not by waiting for real time to pass their end.
const t0 = Math.floor((Date.now() - 10 * 60_000) / WINDOW_MS) * WINDOW_MS;

/** One analytics process, spawned as `npm start` does; unlike ServiceProcess it can also be SIGKILLed. */
class AnalyticsProcess {
  private child: ChildProcess | undefined;
  private exit: Promise<number | null> | undefined;
  readonly logFile: string;

  constructor(
    readonly name: string,
    readonly port: number,
    private readonly env: Record<string, string>,
  ) {
    const dir = join(ROOT, 'tmp', 'test-logs');
    mkdirSync(dir, { recursive: true });
    this.logFile = join(dir, `${groupPrefix}-${name}.log`);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(readyTimeoutMs = 90_000): Promise<void> {
    const log = createWriteStream(this.logFile, { flags: 'a' });
    const child = spawn(process.execPath, ['-r', '@swc-node/register', join(ROOT, 'apps', 'analytics', 'src', 'main.ts')], {
      cwd: ROOT,
      env: { ...process.env, ...this.env, PORT: String(this.port), HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stdout!.pipe(log);
    child.stderr!.pipe(log);
    let exited = false;
    this.exit = new Promise((r) => child.once('exit', (code, signal) => ((exited = true), r(signal ? null : code))));
    await expectEventually(
      async () => {
        if (exited) return;
        const res = await fetch(`${this.url}/readyz`);
        if (res.status !== 200) throw new Error(`${this.name} not ready: ${await res.text()}`);
      },
      { timeoutMs: readyTimeoutMs, intervalMs: 250 },
    );
    if (exited) throw new Error(`${this.name} exited during start; see ${this.logFile}`);
  }

  /** SIGTERM; resolves with the exit code (SIGKILL after the timeout, which resolves null). */
  async stop(timeoutMs = 30_000): Promise<number | null> {
    if (!this.child || !this.exit) return null;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), timeoutMs);
    const code = await this.exit;
    clearTimeout(timer);
    this.child = undefined;
    return code;
  }

  /** A crash: no shutdown hook runs, nothing is flushed or committed. */
  async kill(): Promise<void> {
    if (!this.child || !this.exit) return;
    this.child.kill('SIGKILL');
    await this.exit;
    this.child = undefined;
  }

  /** Sum of a metric's samples whose labels include `labels` (0 when absent). */
  async metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    const text = await (await fetch(`${this.url}/metrics`, { headers: controlTrust().metricsHeaders })).text();
    let total = 0;
    for (const line of text.split('\n')) {
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
      if (!m || m[1] !== name) continue;
      if (Object.entries(labels).every(([k, v]) => (m[2] ?? '').includes(`${k}="${v}"`))) total += Number(m[3]);
    }
    return total;
  }
}

function analytics(name: string, port: number, env: Record<string, string> = {}): AnalyticsProcess {
  const base = serviceEnv('analytics', secrets, { slackApiUrl: 'http://127.0.0.1:1/api/', groupPrefix });
  return new AnalyticsProcess(name, port, { ...base, ANALYTICS_GROUP_ID: `${groupPrefix}-${name}`, ...env });
}

const running: AnalyticsProcess[] = [];
async function started(p: AnalyticsProcess): Promise<AnalyticsProcess> {
  running.push(p);
  await p.start();
  return p;
}

async function makeTenant(tenant: string, limits?: TenantLimitOverrides): Promise<void> {
  const at = new Date().toISOString();
  const wrapped = createWrappedKey(kek, tenant, 'data', 1);
  keyring.add(wrapped);
  const records: ControlRecord[] = [
    { kind: 'tenant', tenant, displayName: tenant, status: 'active', shards: 1, locale: 'en', createdAt: at, ...(limits ? { limits } : {}) },
    { kind: 'data_key', ...wrapped, state: 'active' },
  ];
  await controlPublisher.publish(ControlRecordMessage, records.map((r) => ({ key: controlKey(r), value: r })));
}

function telemetry(points: MetricPoint[]) {
  return { batchId: randomBytes(8).toString('hex'), source: 'analytics-int-spec', receivedAt: Date.now(), points, events: [] };
}

/** Points sent so far (all of them), so a replay from the beginning knows how many to expect. */
let pointsSent = 0;
async function send(tenant: string, points: MetricPoint[]): Promise<void> {
  pointsSent += points.length;
  await telemetryPublisher.publish(TelemetryBatchMessage, [{ tenant, value: telemetry(points) }]);
}

const latency = (value: number, timestamp: number): MetricPoint => ({ name: 'api_latency_ms', labels: { route: '/play' }, value, timestamp, unit: 'ms' });
const depth = (value: number, timestamp: number): MetricPoint => ({ name: 'queue_depth', labels: {}, value, timestamp });

/** The exact q-quantile as DDSketch defines it (rank q·(n−1) of the sorted values), written independently. */
function exactQuantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(q * (sorted.length - 1))];
}

interface Expected {
  name: string;
  labels: Record<string, string>;
  windowStart: number;
  count: number;
  sum: number;
  min: number;
  max: number;
  p50: number;
  p95: number;
  p99: number;
}

function expected(points: MetricPoint[]): Expected[] {
  const groups = new Map<string, MetricPoint[]>();
  for (const p of points) {
    const k = `${p.name}|${JSON.stringify(p.labels)}|${p.timestamp - (p.timestamp % WINDOW_MS)}`;
    groups.set(k, [...(groups.get(k) ?? []), p]);
  }
  return [...groups.values()]
    .map((ps) => {
      const v = ps.map((p) => p.value);
      return {
        name: ps[0].name,
        labels: ps[0].labels,
        windowStart: ps[0].timestamp - (ps[0].timestamp % WINDOW_MS),
        count: v.length,
        sum: v.reduce((a, b) => a + b, 0),
        min: Math.min(...v),
        max: Math.max(...v),
        p50: exactQuantile(v, 0.5),
        p95: exactQuantile(v, 0.95),
        p99: exactQuantile(v, 0.99),
      };
    })
    .sort(byWindow);
}

function byWindow(a: { name: string; windowStart: number; labels?: Record<string, string> }, b: { name: string; windowStart: number; labels?: Record<string, string> }): number {
  return a.name.localeCompare(b.name) || JSON.stringify(a.labels ?? {}).localeCompare(JSON.stringify(b.labels ?? {})) || a.windowStart - b.windowStart;
}

/**
 * Stored or published windows against the expected ones: the same windows, count, min and max
 * exact, sum exact up to float rounding, quantiles within the sketch's 1% relative error.
 */
function expectWindows(got: Expected[], want: Expected[]): void {
  const key = (w: Expected) => `${w.name}|${JSON.stringify(w.labels)}|${w.windowStart}`;
  expect(got.map(key)).toEqual(want.map(key));
  got.forEach((g, i) => {
    const w = want[i];
    expect({ count: g.count, min: g.min, max: g.max }).toEqual({ count: w.count, min: w.min, max: w.max });
    expect(Math.abs(g.sum - w.sum)).toBeLessThanOrEqual(Math.abs(w.sum) * 1e-12);
    for (const q of ['p50', 'p95', 'p99'] as const) expect(Math.abs(g[q] - w[q])).toBeLessThanOrEqual(Math.abs(w[q]) * 0.01);
  });
}

async function rows(tenant: string): Promise<(Expected & { revision: number })[]> {
  const { rows: rs } = await pool.query<Expected & { revision: number }>(
    `select name, labels, window_start::float8 as "windowStart", count::int as count, sum, min, max, p50, p95, p99, revision
       from analytics.windows_10s where tenant = $1 order by name, window_start`,
    [tenant],
  );
  return rs.sort(byWindow);
}

/** The tenant's progress: the furthest any of its streams (partitions) has closed. */
async function progress(tenant: string): Promise<number | undefined> {
  const { rows: rs } = await pool.query<{ until: number | null }>('select max(closed_until)::float8 as until from analytics.progress where tenant = $1', [tenant]);
  return rs[0]?.until ?? undefined;
}

/** Everything on a topic now: reads until every partition's current end has been seen. */
async function readAll(topic: string): Promise<RawRecord[]> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic).finally(() => admin.disconnect());
  const total = ends.reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
  return readRawRecords(kafka, topic, { until: (rs) => rs.length >= total, timeoutMs: 60_000 });
}

/** The aggregate windows published for `tenant`, decrypted with this file's keyring. */
async function publishedWindows(tenant: string): Promise<{ records: RawRecord[]; windows: AggregateWindow[] }> {
  const records = (await readAll(Topics.aggregates.name)).filter((r) => r.headers[Headers.tenant] === tenant || tenantOfKey(r.key) === tenant);
  const windows: AggregateWindow[] = [];
  for (const r of records) {
    const decoded = decodeRecord(r.topic, r.key, r.value, r.headers, new Set([AggregateBatchMessage.id]), keyring);
    if (!decoded.ok) throw new Error(`aggregate record of ${tenant} does not decode: ${decoded.code} ${decoded.reason}`);
    windows.push(...(decoded.value as { windows: AggregateWindow[] }).windows);
  }
  return { records, windows };
}

/** Offsets of a tenant's telemetry records, in order. */
async function telemetryOffsets(tenant: string): Promise<{ partition: number; offset: string }[]> {
  return (await readAll(Topics.telemetry.name)).filter((r) => r.headers[Headers.tenant] === tenant).map((r) => ({ partition: r.partition, offset: r.offset }));
}

async function committed(groupId: string, partition: number): Promise<string | undefined> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [topic] = await admin.fetchOffsets({ groupId, topics: [Topics.telemetry.name] });
    return topic?.partitions.find((p) => p.partition === partition)?.offset;
  } finally {
    await admin.disconnect();
  }
}

async function dlqEntries(predicate: (d: DlqRecord) => boolean): Promise<DlqRecord[]> {
  return (await readAll(Topics.dlq.name)).map((r) => DlqRecordSchema.parse(JSON.parse(r.value!.toString('utf8')))).filter(predicate);
}

beforeAll(async () => {
  await controlPublisher.connect();
  await telemetryPublisher.connect();
}, 60_000);

afterAll(async () => {
  // Whatever a failed test left behind; a passing run has stopped everything already.
  await Promise.all(running.map((p) => p.kill()));
  await controlPublisher.disconnect();
  await telemetryPublisher.disconnect();
  await pool.end();
}, 60_000);

// Filled by the lifecycle test, replayed by the replay test.
const A = uniqueId('an-a');
const B = uniqueId('an-b');
const pointsOf: Record<string, MetricPoint[]> = {};

describe('analytics (process, real servers)', () => {
  it('windows two tenants exactly (count, sum, min, max; quantiles within 1%), each under its own key, and exits 0 on SIGTERM', async () => {
    await makeTenant(A);
    await makeTenant(B);
    pointsOf[A] = [
      ...Array.from({ length: 20 }, (_, i) => latency(i + 1, t0 + i * 100)),
      latency(100, t0 + WINDOW_MS + 10),
      latency(200.5, t0 + WINDOW_MS + 20),
      depth(5, t0 + 1),
      depth(3, t0 + 2),
      depth(9, t0 + 3),
    ];
    pointsOf[B] = [latency(7, t0 + 5), latency(7, t0 + 6), latency(8, t0 + 7), latency(1000, t0 + 8), depth(42, t0 + 9)];
    const p = await started(analytics('lifecycle', 5220));
    // Two records per tenant, so a window is fed by more than one record.
    for (const t of [A, B]) {
      const half = Math.ceil(pointsOf[t].length / 2);
      await send(t, pointsOf[t].slice(0, half));
      await send(t, pointsOf[t].slice(half));
    }

    const wantA = expected(pointsOf[A]);
    const wantB = expected(pointsOf[B]);
    expect(wantA).toHaveLength(3);
    expect(wantA.find((w) => w.name === 'api_latency_ms' && w.windowStart === t0)).toMatchObject({ count: 20, sum: 210, min: 1, max: 20, p50: 10, p95: 19, p99: 19 });
    await expectEventually(async () => {
      expectWindows(await rows(A), wantA);
      expectWindows(await rows(B), wantB);
    }, { timeoutMs: 45_000, intervalMs: 500 });
    expect(await progress(A)).toBeGreaterThanOrEqual(t0 + 2 * WINDOW_MS);

    // The same windows on headroom.aggregates.v1, sealed for their own tenant only.
    for (const [tenant, want] of [[A, wantA], [B, wantB]] as const) {
      const { records, windows } = await expectEventually(async () => {
        const got = await publishedWindows(tenant);
        expect(got.windows.length).toBeGreaterThanOrEqual(want.length);
        return got;
      }, { timeoutMs: 30_000 });
      for (const r of records) {
        expect(r.headers[Headers.tenant]).toBe(tenant);
        expect(tenantOfKey(r.key)).toBe(tenant);
        expect(r.headers[Headers.codec]).toBe(CODEC_SEALED);
      }
      // At least once: a window may be published again, but always with the same figures.
      const asRows = windows.map(({ series, windowStart, count, sum, min, max, p50, p95, p99 }) => ({ name: series.name, labels: series.labels, windowStart, count, sum, min, max, p50, p95, p99 }));
      expectWindows([...new Map(asRows.map((w) => [JSON.stringify(w), w])).values()].sort(byWindow), want);
      for (const w of windows) expect(w.sketch).toEqual(expect.any(String));
    }
    // B's aggregate records are not readable as A's (the AAD binds the tenant).
    const bRecord = (await publishedWindows(B)).records[0];
    expect(decodeRecord(bRecord.topic, A, bRecord.value, { ...bRecord.headers, [Headers.tenant]: A }, new Set([AggregateBatchMessage.id]), keyring)).toMatchObject({ ok: false, code: 'integrity' });

    expect(await p.stop()).toBe(0);
  }, 180_000);

  it('loses nothing and counts nothing twice when killed with a window open: the restart rebuilds it from the committed offset', async () => {
    const C = uniqueId('an-c');
    await makeTenant(C);
    const group = `${groupPrefix}-crash`;
    // The first process never closes a window by idleness: it must die with the window open.
    const first = await started(analytics('crash-1', 5221, { ANALYTICS_GROUP_ID: group, IDLE_CLOSE_MS: '600000' }));
    const windowedBefore = await first.metric('headroom_analytics_points_total', { outcome: 'windowed' });
    const values = Array.from({ length: 200 }, (_, i) => (i % 17) + 0.25);
    const start = t0 + 3 * WINDOW_MS;
    for (let r = 0; r < 5; r++) await send(C, values.slice(r * 40, r * 40 + 40).map((v, i) => latency(v, start + r * 40 + i)));

    const offsets = await expectEventually(async () => {
      const o = await telemetryOffsets(C);
      expect(o).toHaveLength(5);
      return o;
    }, { timeoutMs: 30_000 });
    // Every point is in the open window, and the group's commit stops at the window's first record.
    await expectEventually(async () => {
      expect(await first.metric('headroom_analytics_points_total', { outcome: 'windowed' })).toBe(windowedBefore + 200);
      expect(await committed(group, offsets[0].partition)).toBe(offsets[0].offset);
    }, { timeoutMs: 30_000 });
    expect(await rows(C)).toEqual([]);
    await first.kill();

    const second = await started(analytics('crash-2', 5221, { ANALYTICS_GROUP_ID: group }));
    const want = expected(values.map((v, i) => latency(v, start + i)));
    expect(want).toEqual([expect.objectContaining({ count: 200, sum: values.reduce((a, b) => a + b, 0) })]);
    await expectEventually(async () => expectWindows(await rows(C), want), { timeoutMs: 60_000, intervalMs: 500 });
    // Nothing partial was ever published either.
    const { windows } = await publishedWindows(C);
    expect(windows.length).toBeGreaterThanOrEqual(1);
    for (const w of windows) expect(w).toMatchObject({ count: 200, sum: want[0].sum, min: want[0].min, max: want[0].max });
    expect(await second.stop()).toBe(0);
  }, 240_000);

  describe('on a replaying process', () => {
    let p: AnalyticsProcess;
    beforeAll(async () => {
      p = await started(analytics('replay', 5222));
    }, 120_000);
    afterAll(async () => {
      expect(await p.stop()).toBe(0);
    }, 60_000);

    it('replays the topic from the beginning under a fresh group without changing a row or moving progress back; merges genuinely late points as a revision', async () => {
      const before = { A: await rows(A), B: await rows(B), progressA: await progress(A), progressB: await progress(B) };
      expect(before.A.length).toBeGreaterThan(0);
      // Every point sent so far (A, B and the crash test's C) is now late: their windows are closed for good.
      const replayed = pointsSent;
      await expectEventually(async () => expect(await p.metric('headroom_analytics_points_total', { outcome: 'late' })).toBe(replayed), { timeoutMs: 60_000 });
      expect(await p.metric('headroom_analytics_points_total', { outcome: 'windowed' })).toBe(0);
      expect(await rows(A)).toEqual(before.A);
      expect(await rows(B)).toEqual(before.B);
      expect(await progress(A)).toBeGreaterThanOrEqual(before.progressA!);
      expect(await progress(B)).toBeGreaterThanOrEqual(before.progressB!);

      // New points for A's closed first window (within the tenant's maxSampleAgeMs): merged into the
      // stored window as revision 1, and the revision is published whole.
      const late = await p.metric('headroom_analytics_points_total', { outcome: 'late' });
      await send(A, [latency(99_999, t0 + 50), latency(-5, t0 + 51)]);
      await expectEventually(async () => expect(await p.metric('headroom_analytics_points_total', { outcome: 'late' })).toBe(late + 2), { timeoutMs: 30_000 });
      pointsOf[A].push(latency(99_999, t0 + 50), latency(-5, t0 + 51));
      await expectEventually(async () => expectWindows(await rows(A), expected(pointsOf[A])), { timeoutMs: 30_000 });
      const revised = (await rows(A)).find((w) => w.name === 'api_latency_ms' && w.windowStart === t0)!;
      expect(revised).toMatchObject({ count: 22, min: -5, max: 99_999, revision: 1 });
      const republished = await expectEventually(async () => {
        const found = (await publishedWindows(A)).windows.filter((w) => w.windowStart === t0 && w.series.name === 'api_latency_ms' && w.revision === 1);
        expect(found.length).toBeGreaterThanOrEqual(1);
        return found;
      }, { timeoutMs: 30_000 });
      expect(republished[0]).toMatchObject({ count: 22, min: -5, max: 99_999 });
    }, 120_000);

    it('sends a sealed record that violates the schema to the DLQ with the field path, and still processes what follows it', async () => {
      const D = uniqueId('an-d');
      await makeTenant(D);
      const marker = `bad-${run}`;
      const bad = telemetry([latency(1, t0 + 4 * WINDOW_MS), { ...latency(2, t0 + 4 * WINDOW_MS + 1), value: 'slow' as unknown as number }]);
      const schema = TelemetryBatchMessage.id;
      const sealed = keyring.encrypt({ tenant: D, topic: Topics.telemetry.name, schema }, Buffer.from(JSON.stringify(bad)));
      await produceRawRecords(kafka, Topics.telemetry.name, [
        {
          key: D,
          value: sealed.ciphertext,
          headers: {
            [Headers.schema]: schema,
            [Headers.tenant]: D,
            // Written as records were before compression moved into the codec: still read.
            [Headers.codec]: CODEC_SEALED_UNCOMPRESSED,
            [Headers.keyVersion]: String(sealed.keyVersion),
            [Headers.traceparent]: newTraceparent(),
            'x-analytics-int': marker,
          },
        },
      ]);
      // Behind it on the same partition (same key): a good record.
      const good = [latency(3, t0 + 4 * WINDOW_MS + 2), latency(4, t0 + 4 * WINDOW_MS + 3)];
      await send(D, good);

      const [entry] = await expectEventually(async () => {
        const found = await dlqEntries((d) => d.source.headers['x-analytics-int'] === marker);
        expect(found).toHaveLength(1);
        return found;
      }, { timeoutMs: 45_000, intervalMs: 500 });
      expect(entry).toMatchObject({ service: 'analytics', code: 'schema', source: { topic: Topics.telemetry.name, key: D } });
      expect(entry.reason).toContain('points.1.value');
      expect(Buffer.from(entry.value!, 'base64')).toEqual(sealed.ciphertext);
      await expectEventually(async () => expectWindows(await rows(D), expected(good)), { timeoutMs: 45_000, intervalMs: 500 });
    }, 120_000);

    it("deletes an erased tenant's windows and skips its later records without a DLQ entry", async () => {
      const E = uniqueId('an-e');
      const F = uniqueId('an-f');
      await makeTenant(E);
      await makeTenant(F);
      await send(E, [latency(10, t0 + 5 * WINDOW_MS), latency(20, t0 + 5 * WINDOW_MS + 1)]);
      await send(F, [latency(30, t0 + 5 * WINDOW_MS)]);
      await expectEventually(async () => {
        expect(await rows(E)).toHaveLength(1);
        expect(await rows(F)).toHaveLength(1);
      }, { timeoutMs: 45_000, intervalMs: 500 });

      const erased = { kind: 'tenant_erased', tenant: E, erasedAt: new Date().toISOString() } as const;
      await controlPublisher.publish(ControlRecordMessage, [
        { key: controlKey(erased), value: erased },
        { key: `data_key/${E}/data/1`, value: null },
        { key: `tenant/${E}`, value: null },
      ]);
      await expectEventually(async () => expect(await rows(E)).toEqual([]), { timeoutMs: 30_000 });
      expect(await rows(F)).toHaveLength(1);
      // Nothing keyed by the erased tenant stays behind, its progress row included.
      expect(await progress(E)).toBeUndefined();
      expect(await progress(F)).toBeDefined();

      // A record sealed before the shredding reaches analytics after it (this keyring still has the key).
      const skipped = await p.metric('headroom_kafka_records_consumed_total', { outcome: 'erased' });
      await send(E, [latency(30, t0 + 6 * WINDOW_MS)]);
      await expectEventually(async () => expect(await p.metric('headroom_kafka_records_consumed_total', { outcome: 'erased' })).toBe(skipped + 1), { timeoutMs: 30_000 });
      expect(await dlqEntries((d) => d.source.headers[Headers.tenant] === E)).toEqual([]);
      expect(await rows(E)).toEqual([]);
    }, 120_000);
  });

  it('publishes an anomaly signal, sealed for its tenant, when a window p95 breaks from its series history', async () => {
    const G = uniqueId('an-g');
    // Its history starts 70 min back: older than the default maxSampleAgeMs (1 h), so raised for it.
    await makeTenant(G, { maxSampleAgeMs: 3 * 3600_000 });
    const p = await started(analytics('signals', 5226));
    // 400 quiet windows 70 minutes back, then one spike; windows close by event time and idleness.
    const base = Math.floor((Date.now() - 70 * 60_000) / WINDOW_MS) * WINDOW_MS;
    let seed = 11;
    const noise = () => ((seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5) * 10;
    const points = Array.from({ length: 400 }, (_, i) => latency(120 + noise(), base + i * WINDOW_MS + 1));
    const spikeAt = base + 400 * WINDOW_MS + 1;
    await send(G, [...points, latency(480, spikeAt)]);
    const spikeEnd = base + 401 * WINDOW_MS;
    const accepted = new Map([[SignalBatchMessage.id, SignalBatchMessage]]);
    const signalsOf = (rs: RawRecord[]) =>
      rs
        .filter((r) => r.headers[Headers.tenant] === G)
        .flatMap((r) => {
          const d = decodeRecord(r.topic, r.key, r.value, r.headers, accepted, keyring);
          if (!d.ok) throw new Error(`${d.code}: ${d.reason}`);
          return (d.value as SignalBatch).signals;
        });
    const records = await readRawRecords(kafka, Topics.signals.name, { until: (rs) => signalsOf(rs).some((x) => x.timestamp === spikeEnd), timeoutMs: 60_000 });
    const signals = signalsOf(records);
    const spike = signals.find((x) => x.timestamp === spikeEnd);
    expect(spike).toMatchObject({ kind: 'anomaly', detector: 'seasonal', value: 480, series: { name: 'api_latency_ms', labels: { route: '/play' } } });
    expect(spike!.score).toBeGreaterThanOrEqual(0.6);
    expect(spike!.explanation).toMatch(/480 ms/);
    // A quiet series raises (almost) nothing: at most 1 % of its windows.
    expect(signals.filter((x) => x !== spike).length).toBeLessThanOrEqual(4);
    expect(await p.metric('headroom_analytics_anomaly_signals_total')).toBe(signals.length);
    expect(await p.stop()).toBe(0);
  }, 120_000);
});
