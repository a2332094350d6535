/**
 * The query API on the real Kafka and PostgreSQL, against Debian's real Prometheus 2.42.
 *
 * Telemetry goes through the real pipeline: sealed telemetry records on headroom.telemetry.v1 (as
 * collectors writes them), analytics as a process windowing them into PostgreSQL and rolling them
 * up; then the API is asked from outside, with each tenant's read key.
 *
 * The comparison: Prometheus gets the very same raw samples (backfilled with `promtool tsdb
 * create-blocks-from openmetrics`, then served by `prometheus` on a loopback port); Headroom holds
 * only windows (count, sum, min, max, a 1% DDSketch) at 10 s and 1 min. The same `query_range` is
 * sent to both, to Headroom through `promtool query range` (the Go client library, which checks
 * the JSON it reads). No sample sits on a minute boundary and the queries' start, step and ranges
 * are whole minutes, so the samples Prometheus selects for [t − range, t] are exactly the points
 * of the windows Headroom merges: avg/max/min/sum/count must agree to float rounding, quantiles
 * within 1%. Prometheus interpolates between the two samples around rank φ·(n−1) and the sketch
 * answers the sample at that rank, so quantiles are compared where φ·(n−1) is a whole number
 * (101 samples per minute: φ = 0.5, 0.95, 0.99 over 1 min; φ = 0.5 over 5 min).
 *
 * Ports: analytics 5460, Prometheus 9392 (loopback).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Pool } from 'pg';
import { ControlRecordMessage, controlKey, TelemetryBatchMessage, type ControlRecord, type MetricPoint } from '@headroom/contracts';
import { createWrappedKey, KeyEncryptionKey, TenantKeyring } from '@headroom/crypto';
import { createKafkaClient, RecordPublisher } from '@headroom/kafka';
import { generateApiKey } from '@headroom/tenancy';
import { expectEventually, localSecrets, ROOT, serviceEnv, ServiceProcess, silentLogger, testInfra, controlTrust } from '@headroom/testing';

const run = randomBytes(3).toString('hex');
const groupPrefix = `query-int-${run}`;
// A fresh KEK: no other analytics process on the shared servers can open these tenants' records.
const secrets = { ...localSecrets(), kek: randomBytes(32).toString('base64') };
const kek = KeyEncryptionKey.fromBase64(secrets.kek);
const keyring = new TenantKeyring(kek);
const infra = testInfra();
const kafka = createKafkaClient({ brokers: infra.brokers, clientId: groupPrefix, logger: silentLogger() });
const controlPublisher = new RecordPublisher(kafka, undefined, undefined, { signer: controlTrust().signer });
const telemetryPublisher = new RecordPublisher(kafka, keyring, undefined, { signer: controlTrust().signer });
const pool = new Pool({ connectionString: infra.databaseUrl, max: 2 });
const execFileAsync = promisify(execFile);

const A = `qa-${run}`;
const B = `qb-${run}`;
const METRIC = `qapi_latency_ms_${run}`;
const keys: Record<string, { read: string; ingest: string }> = {};
const analytics = new ServiceProcess(
  'analytics',
  5460,
  { ...serviceEnv('analytics', secrets, { slackApiUrl: 'http://127.0.0.1:1/api/', groupPrefix }), ROLLUP_DELAY_MS: '0', ROLLUP_INTERVAL_MS: '500' },
  `${groupPrefix}-analytics`,
);
const PROM_PORT = 9392;
const promDir = join(ROOT, 'tmp', 'query-int', run);

const MINUTE = 60_000;
// 20 minutes of data ending 25 minutes ago: within the default maximum sample age (1 h), and every
// 1 min rollup falls due at once.
const BASE = Math.floor((Date.now() - 45 * MINUTE) / MINUTE) * MINUTE;
const MINUTES = 20;

/** A deterministic generator, so a failure replays with the same samples. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

/** `perMinute` samples in each minute, none on a 10 s boundary (offsets 300 ms … 59.3 s), log-normal-ish values. */
function samples(perMinute: number, scale: number, seed: number): [number, number][] {
  const random = rng(seed);
  const out: [number, number][] = [];
  const spacing = Math.floor(59_000 / (perMinute - 1));
  for (let m = 0; m < MINUTES; m++)
    for (let i = 0; i < perMinute; i++) out.push([BASE + m * MINUTE + 300 + i * spacing, Math.round(scale * Math.exp(3 + 2.5 * random()) * 1000) / 1000]);
  return out;
}

const series = {
  aPlay: { tenant: A, labels: { route: '/play' }, samples: samples(101, 1, 1) },
  aSearch: { tenant: A, labels: { route: '/search' }, samples: samples(13, 1, 2) },
  // Tenant B: the same metric and labels as A's /play, values ten times larger: a leak shows.
  bPlay: { tenant: B, labels: { route: '/play' }, samples: samples(101, 10, 3) },
};

async function makeTenant(tenant: string): Promise<void> {
  const at = new Date().toISOString();
  const wrapped = createWrappedKey(kek, tenant, 'data', 1);
  keyring.add(wrapped);
  const read = generateApiKey();
  const ingest = generateApiKey();
  keys[tenant] = { read: read.secret, ingest: ingest.secret };
  const records: ControlRecord[] = [
    { kind: 'tenant', tenant, displayName: tenant, status: 'active', shards: 1, locale: 'en', createdAt: at },
    { kind: 'data_key', ...wrapped, state: 'active' },
    { kind: 'api_key', keyId: read.keyId, tenant, secretHash: read.secretHash, scopes: ['read'], createdAt: at },
    { kind: 'api_key', keyId: ingest.keyId, tenant, secretHash: ingest.secretHash, scopes: ['ingest'], createdAt: at },
  ];
  await controlPublisher.publish(ControlRecordMessage, records.map((r) => ({ key: controlKey(r), value: r })));
}

async function publish(tenant: string, points: MetricPoint[]): Promise<void> {
  for (let i = 0; i < points.length; i += 500) {
    const batch = { batchId: randomBytes(8).toString('hex'), source: 'query-int-spec', receivedAt: Date.now(), points: points.slice(i, i + 500), events: [] };
    await telemetryPublisher.publish(TelemetryBatchMessage, [{ tenant, value: batch }]);
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- answers are checked field by field below
type Json = any;
async function get(path: string, key?: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Json }> {
  const res = await fetch(`${analytics.url}${path}`, { headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers } });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

const q = (params: Record<string, string | number>) => new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)])).toString();

/** `promtool query range` against a server; its JSON output (the Go client's decoding of the answer). */
async function promtoolRange(server: string, expr: string, start: number, end: number, stepS: number, key?: string): Promise<{ metric: Record<string, string>; values: [number, string][] }[]> {
  const args = ['query', 'range', '-o', 'json', `--start=${start / 1000}`, `--end=${end / 1000}`, `--step=${stepS}s`];
  if (key) args.push(`--header=Authorization=Bearer ${key}`);
  const { stdout } = await execFileAsync('promtool', [...args, server, expr], { timeout: 30_000 });
  return JSON.parse(stdout);
}

/** Prometheus's own HTTP API, the reference answer. */
async function prometheusRange(expr: string, start: number, end: number, stepS: number): Promise<{ metric: Record<string, string>; values: [number, string][] }[]> {
  const res = await fetch(`http://127.0.0.1:${PROM_PORT}/api/v1/query_range?${q({ query: expr, start: start / 1000, end: end / 1000, step: stepS })}`);
  const body = (await res.json()) as { status: string; data: { resultType: string; result: { metric: Record<string, string>; values: [number, string][] }[] } };
  expect(body.status).toBe('success');
  expect(body.data.resultType).toBe('matrix');
  return body.data.result;
}

let prometheus: ChildProcess | undefined;
let prometheusExit: Promise<unknown> | undefined;

async function startPrometheus(): Promise<void> {
  mkdirSync(join(promDir, 'data'), { recursive: true });
  mkdirSync(join(ROOT, 'tmp', 'test-logs'), { recursive: true });
  // The raw samples of tenant A, as OpenMetrics with timestamps, backfilled into TSDB blocks.
  const lines = [...series.aPlay.samples.map((s) => ['/play', s] as const), ...series.aSearch.samples.map((s) => ['/search', s] as const)]
    .sort((x, y) => x[1][0] - y[1][0])
    .map(([route, [t, v]]) => `${METRIC}{route="${route}"} ${v} ${(t / 1000).toFixed(3)}`);
  writeFileSync(join(promDir, 'samples.om'), `# TYPE ${METRIC} gauge\n${lines.join('\n')}\n# EOF\n`);
  await execFileAsync('promtool', ['tsdb', 'create-blocks-from', 'openmetrics', join(promDir, 'samples.om'), join(promDir, 'data')], { timeout: 60_000 });
  writeFileSync(join(promDir, 'prometheus.yml'), 'global:\n  scrape_interval: 1m\n');
  const log = createWriteStream(join(ROOT, 'tmp', 'test-logs', `prometheus-query-${run}.log`), { flags: 'a' });
  prometheus = spawn(
    'prometheus',
    [`--config.file=${join(promDir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(promDir, 'data')}`, `--web.listen-address=127.0.0.1:${PROM_PORT}`],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  prometheus.stdout!.pipe(log);
  prometheus.stderr!.pipe(log);
  prometheusExit = new Promise((r) => prometheus!.once('exit', r));
  await expectEventually(
    async () => {
      if (prometheus!.exitCode !== null) throw new Error(`prometheus exited (${prometheus!.exitCode}); see tmp/test-logs/prometheus-query-${run}.log`);
      expect((await fetch(`http://127.0.0.1:${PROM_PORT}/-/ready`)).status).toBe(200);
    },
    { timeoutMs: 30_000, intervalMs: 200 },
  );
}

/** Windows of `tenant` stored at `table`, straight from PostgreSQL. */
async function storedWindows(tenant: string, table: string) {
  const { rows } = await pool.query<{ series_id: string; labels: Record<string, string>; t: number; count: number; sum: number; min: number; max: number; p50: number; p95: number; p99: number }>(
    `select series_id, labels, window_start::float8 as t, count::float8 as count, sum, min, max, p50, p95, p99
       from ${table} where tenant = $1 and name = $2 order by series_id, window_start`,
    [tenant, METRIC],
  );
  return rows;
}

const pointCount = (s: { samples: unknown[] }) => s.samples.length;

describe('query API (analytics process on real Kafka + PostgreSQL; Debian Prometheus 2.42 as reference)', () => {
  beforeAll(async () => {
    await controlPublisher.connect();
    await telemetryPublisher.connect();
    await analytics.start(90_000);
    await makeTenant(A);
    await makeTenant(B);
    for (const s of Object.values(series)) await publish(s.tenant, s.samples.map(([timestamp, value]) => ({ name: METRIC, labels: s.labels, value, timestamp, unit: 'ms' })));
    await startPrometheus();
    // Analytics knows the keys, has windowed every point and rolled every minute up.
    await expectEventually(
      async () => {
        const own: [string, { samples: unknown[] }[]][] = [
          [A, [series.aPlay, series.aSearch]],
          [B, [series.bPlay]],
        ];
        for (const [t, list] of own) {
          const ten = await storedWindows(t, 'analytics.windows_10s');
          const min = await storedWindows(t, 'analytics.windows_1m');
          const want = list.reduce((n, s) => n + pointCount(s), 0);
          expect(ten.reduce((n, w) => n + w.count, 0)).toBe(want);
          expect(min.reduce((n, w) => n + w.count, 0)).toBe(want);
          expect((await get(`/v1/query/series?${q({ match: METRIC })}`, keys[t].read)).status).toBe(200);
        }
      },
      { timeoutMs: 90_000, intervalMs: 500 },
    );
  }, 240_000);

  afterAll(async () => {
    if (prometheus && prometheus.exitCode === null) prometheus.kill('SIGTERM');
    await prometheusExit;
    rmSync(promDir, { recursive: true, force: true });
    await analytics.stop();
    await pool.query('delete from analytics.windows_10s where tenant = any($1)', [[A, B]]);
    await pool.query('delete from analytics.windows_1m where tenant = any($1)', [[A, B]]);
    await pool.query('delete from analytics.windows_1h where tenant = any($1)', [[A, B]]);
    await pool.end();
    await controlPublisher.disconnect();
    await telemetryPublisher.disconnect();
  }, 60_000);

  it('a range query at 10 s returns exactly the stored windows of the caller’s tenant', async () => {
    for (const tenant of [A, B]) {
      const stored = await storedWindows(tenant, 'analytics.windows_10s');
      const res = await get(
        `/v1/query/range?${q({ query: METRIC, stat: 'count,sum,min,max,p50,p95,p99', start: BASE, end: BASE + MINUTES * MINUTE, step: '10s' })}`,
        keys[tenant].read,
      );
      expect(res.status).toBe(200);
      expect(res.body.resolution).toBe('10s');
      const got = (res.body.series as { id: string; labels: Record<string, string>; points: Record<string, number>[] }[]).flatMap((s) =>
        s.points.map(({ t, ...stats }) => ({ series_id: s.id, labels: s.labels, t, ...stats })),
      );
      const byKey = (w: { series_id: string; t: number }) => `${w.series_id}/${w.t}`;
      expect(got.map(byKey).sort()).toEqual(stored.map(byKey).sort());
      const gotByKey = new Map(got.map((w) => [byKey(w), w]));
      for (const w of stored) expect(gotByKey.get(byKey(w))).toEqual(w);
    }
  });

  it.each([
    ['5m', '1m', 'five 1 min windows'],
    ['30s', '10s', 'three 10 s windows'],
  ])('a %s step reads %s windows and merges them exactly (%s), quantiles from the merged sketches', async (step, resolution) => {
    const stepMs = step === '5m' ? 5 * MINUTE : 30_000;
    // Steps are aligned to multiples of the step since the epoch: ask for whole steps inside the data.
    const start = Math.ceil(BASE / stepMs) * stepMs;
    const end = start + 3 * stepMs;
    const res = await get(`/v1/query/range?${q({ query: `${METRIC}{route="/play"}`, stat: 'count,max,mean,q0.5', start, end, step })}`, keys[A].read);
    expect(res.status).toBe(200);
    expect(res.body.resolution).toBe(resolution);
    const [only] = res.body.series;
    expect(only.points.map((p: { t: number }) => p.t)).toEqual([start, start + stepMs, start + 2 * stepMs]);
    for (const p of only.points as Record<string, number>[]) {
      const raw = series.aPlay.samples.filter(([t]) => t >= p.t && t < p.t + stepMs).map(([, v]) => v);
      expect(p.count).toBe(raw.length);
      expect(p.max).toBe(Math.max(...raw));
      expect(p.mean).toBeCloseTo(raw.reduce((a, b) => a + b, 0) / raw.length, 9);
      const median = raw.sort((a, b) => a - b)[Math.floor((raw.length - 1) / 2)];
      expect(Math.abs(p['q0.5'] - median) / median).toBeLessThanOrEqual(0.01);
    }
  });

  it('tenant B’s key never sees tenant A’s series, through any endpoint or any tenant-naming parameter', async () => {
    const bIds = new Set((await storedWindows(B, 'analytics.windows_10s')).map((w) => w.series_id));
    const aOnly = { 'X-Scope-OrgID': A, 'X-Tenant': A };
    const listed = await get(`/v1/query/series?${q({ match: `{__name__=~"qapi_.*"}`, tenant: A })}`, keys[B].read, aOnly);
    expect(listed.body.series.map((s: { id: string }) => s.id)).toEqual([...bIds]);
    const range = await get(`/v1/query/range?${q({ query: METRIC, stat: 'max', start: BASE, end: BASE + MINUTES * MINUTE, step: '20m', tenant: A })}`, keys[B].read, aOnly);
    expect(range.body.series).toHaveLength(1);
    expect(Math.max(...range.body.series[0].points.map((p: { max: number }) => p.max))).toBe(Math.max(...series.bPlay.samples.map(([, v]) => v)));

    const prom = (path: string) => get(`/prometheus/api/v1/${path}`, keys[B].read, aOnly);
    expect((await prom(`series?${q({ 'match[]': `${METRIC}_count` })}`)).body.data).toEqual([{ __name__: `${METRIC}_count`, route: '/play' }]);
    expect((await prom(`label/route/values?${q({ 'match[]': `{__name__=~"qapi_.*"}` })}`)).body.data).toEqual(['/play']);
    expect((await prom(`labels?${q({ 'match[]': `{route="/search"}` })}`)).body.data).toEqual([]);
    const maxOverAll = await prom(`query?${q({ query: `max_over_time(${METRIC}[20m])`, time: (BASE + MINUTES * MINUTE) / 1000 })}`);
    expect(maxOverAll.body.data.result).toEqual([{ metric: { route: '/play' }, value: [(BASE + MINUTES * MINUTE) / 1000, String(Math.max(...series.bPlay.samples.map(([, v]) => v)))] }]);

    // No key: 401; an ingest-only key (valid, but not a reader): 403 — refused everywhere, in each API's own error shape.
    expect(await get(`/v1/query/series?${q({ match: METRIC })}`)).toMatchObject({ status: 401, body: { error: 'unauthorized' } });
    expect(await get(`/prometheus/api/v1/series?${q({ 'match[]': METRIC })}`)).toMatchObject({ status: 401, body: { status: 'error', errorType: 'unauthorized' } });
    expect(await get(`/v1/query/series?${q({ match: METRIC })}`, keys[A].ingest)).toMatchObject({ status: 403 });
    expect(await get(`/prometheus/api/v1/series?${q({ 'match[]': METRIC })}`, keys[A].ingest)).toMatchObject({ status: 403, body: { status: 'error', errorType: 'forbidden' } });
  });

  it('limits and malformed queries answer with the parameter at fault', async () => {
    const tooMany = await get(`/v1/query/range?${q({ query: METRIC, start: BASE, end: BASE + 2 * 24 * 3600_000, step: '10s' })}`, keys[A].read);
    expect(tooMany).toMatchObject({ status: 422, body: { error: 'limit_exceeded', issues: [{ path: 'step', message: expect.stringMatching(/17280 points per series exceeds the limit of 11000/) }] } });
    const bad = await get(`/v1/query/range?${q({ query: `${METRIC}{route=/play}` })}`, keys[A].read);
    expect(bad).toMatchObject({ status: 400, body: { error: 'invalid_request', issues: [{ path: 'query' }] } });
    const promBad = await get(`/prometheus/api/v1/query?${q({ query: `rate(${METRIC}[5m])` })}`, keys[A].read);
    expect(promBad).toMatchObject({ status: 400, body: { status: 'error', errorType: 'bad_data', error: expect.stringMatching(/function "rate" is not supported/) } });
  });

  describe('query_range: Headroom (through promtool) vs Prometheus fed the same samples', () => {
    const start = BASE + 5 * MINUTE;
    const end = BASE + MINUTES * MINUTE;
    const cases: [string, string, number][] = [
      ['avg_over_time', `avg_over_time(${METRIC}[1m])`, 1e-9],
      ['max_over_time', `max_over_time(${METRIC}[1m])`, 0],
      ['min_over_time', `min_over_time(${METRIC}[1m])`, 0],
      ['count_over_time', `count_over_time(${METRIC}[1m])`, 0],
      ['sum_over_time', `sum_over_time(${METRIC}[1m])`, 1e-9],
      ['avg_over_time over 5 min (five 1 min windows)', `avg_over_time(${METRIC}[5m])`, 1e-9],
      ['max_over_time over 5 min', `max_over_time(${METRIC}[5m])`, 0],
      ['quantile_over_time 0.5', `quantile_over_time(0.5, ${METRIC}{route="/play"}[1m])`, 0.01],
      ['quantile_over_time 0.95', `quantile_over_time(0.95, ${METRIC}{route="/play"}[1m])`, 0.01],
      ['quantile_over_time 0.99', `quantile_over_time(0.99, ${METRIC}{route="/play"}[1m])`, 0.01],
      ['quantile_over_time 0.5 over 5 min (merged sketches)', `quantile_over_time(0.5, ${METRIC}{route="/play"}[5m])`, 0.01],
    ];

    it.each(cases)('%s agrees', async (_, expr, tolerance) => {
      const reference = await prometheusRange(expr, start, end, 60);
      const headroom = await promtoolRange(`${analytics.url}/prometheus`, expr, start, end, 60, keys[A].read);
      const byRoute = (r: { metric: Record<string, string> }[]) => r.map((s) => s.metric['route']).sort();
      expect(byRoute(headroom)).toEqual(byRoute(reference));
      expect(reference.length).toBeGreaterThan(0);
      for (const ref of reference) {
        const mine = headroom.find((s) => s.metric['route'] === ref.metric['route'])!;
        expect(mine.metric).toEqual(ref.metric);
        expect(mine.values.map(([t]) => t)).toEqual(ref.values.map(([t]) => t));
        ref.values.forEach(([, v], i) => {
          const want = Number(v);
          const got = Number(mine.values[i][1]);
          expect(Math.abs(got - want)).toBeLessThanOrEqual(Math.abs(want) * tolerance);
        });
      }
    });

    it('tenant B asking the same through promtool gets only its own, different, answer', async () => {
      const reference = await prometheusRange(`max_over_time(${METRIC}{route="/play"}[1m])`, start, end, 60);
      const b = await promtoolRange(`${analytics.url}/prometheus`, `max_over_time(${METRIC}[1m])`, start, end, 60, keys[B].read);
      expect(b).toHaveLength(1);
      expect(b[0].values.map(([, v]) => Number(v))).not.toEqual(reference[0].values.map(([, v]) => Number(v)));
      for (const [t, v] of b[0].values) {
        const raw = series.bPlay.samples.filter(([ts]) => ts > t * 1000 - MINUTE && ts <= t * 1000).map(([, x]) => x);
        expect(Number(v)).toBe(Math.max(...raw));
      }
    });
  });
});
