/**
 * The ingest edge against hostile input, on the real servers: two collectors replicas sharing Redis
 * (limits across replicas), control as a process (tenants, keys, limit overrides), real Kafka. A
 * hostile tenant tries every class of bad input; a normal tenant sends alongside and must keep
 * getting 202 with its points on the telemetry topic (read back and decrypted with its key).
 */
import { connect } from 'node:net';
import { randomBytes } from 'node:crypto';
import { Headers, Topics, type TelemetryBatch } from '@headroom/contracts';
import { KeyEncryptionKey } from '@headroom/crypto';
import { CODEC_SEALED, createKafkaClient, readRawRecords, type RawRecord } from '@headroom/kafka';
import { TenantDirectory } from '@headroom/tenancy';
import { ControlClient, expectEventually, localSecrets, serviceEnv, ServiceProcess, silentLogger, testInfra, uniqueId, openTelemetryRecord, tenantDirectoryFor, controlTrust } from '@headroom/testing';

interface Issue {
  path: string;
  message: string;
  reason: string;
}
interface Sent {
  status: number;
  headers: Response['headers'];
  body: { batchId?: string; accepted?: { points: number; events: number }; error?: string; message?: string; issues?: Issue[] };
}

const secrets = localSecrets();
const kek = KeyEncryptionKey.fromBase64(secrets.kek, 'kek-1');
const slackApiUrl = 'http://127.0.0.1:1/api/';
const controlProcess = new ServiceProcess('control', 5152, serviceEnv('control', secrets, { slackApiUrl }), 'control-edge-int');
const replicas = [5112, 5113].map((port, i) => new ServiceProcess('collectors', port, serviceEnv('collectors', secrets, { slackApiUrl }), `collectors-edge-int-${i}`));
const control = new ControlClient(controlProcess.url, secrets.adminToken);
const kafka = createKafkaClient({ brokers: testInfra().brokers, clientId: 'collectors-edge-int-spec', logger: silentLogger() });

const run = randomBytes(4).toString('hex');
/** Hostile: every class of bad input. */
const H = uniqueId('edge-h');
/** Normal: sends alongside, always valid. */
const N = uniqueId('edge-n');
/** A small series limit, shared by both replicas. */
const S = uniqueId('edge-s');
/** A small rate, shared by both replicas. */
const R = uniqueId('edge-r');
const TENANTS = [H, N, S, R];
const metric = (what: string) => `edge_${what}_${run}`;
const keys: Record<string, string> = {};
const normalBatches: string[] = [];
let rateBatch = '';

const point = (name: string, extra: object = {}) => ({ name, labels: { route: '/play' }, value: 1, timestamp: Date.now(), ...extra });

async function post(replica: number, tenant: string | null, body: unknown, opts: { raw?: string; headers?: Record<string, string> } = {}): Promise<Sent> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...opts.headers };
  if (tenant) headers['authorization'] = `Bearer ${keys[tenant]}`;
  const res = await fetch(`${replicas[replica].url}/v1/ingest/metrics`, { method: 'POST', headers, body: opts.raw ?? JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as Sent['body']) : {} };
}

/** The normal tenant sends one valid batch and must get 202. */
async function normalSends(replica = 0): Promise<void> {
  const res = await post(replica, N, { points: [point(metric('normal'), { value: normalBatches.length })] });
  expect(res.status).toBe(202);
  normalBatches.push(res.body.batchId!);
}

/** Sum of a counter over both replicas' /metrics for the given labels. */
async function counter(name: string, labels: Record<string, string>): Promise<number> {
  let total = 0;
  for (const r of replicas) {
    const text = await (await fetch(`${r.url}/metrics`, { headers: controlTrust().metricsHeaders })).text();
    for (const line of text.split('\n')) {
      if (!line.startsWith(`${name}{`)) continue;
      if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) total += Number(line.split(' ').pop());
    }
  }
  return total;
}
const discarded = (tenant: string, reason: string) => counter('headroom_discarded_samples_total', { tenant, reason });

/** What the services would know from the control topic, for this run's tenant(s) only. */
const directoryFor = (tenants: string[]) => tenantDirectoryFor(kafka, kek, tenants);

function open(directory: TenantDirectory, r: RawRecord): TelemetryBatch {
  // Sealed tenant data is gzipped JSON inside (compressed before sealing).
  expect(r.headers[Headers.codec]).toBe(CODEC_SEALED);
  return openTelemetryRecord(directory, r);
}

async function telemetry(directory: TenantDirectory, until: (batches: { tenant: string; batch: TelemetryBatch }[]) => boolean) {
  // Each of our records opened once, as it arrives: reading a long topic stays linear.
  const batches: { tenant: string; batch: TelemetryBatch }[] = [];
  const openNew = (rs: RawRecord[]) => {
    for (let i = batches.length; i < rs.length; i++) batches.push({ tenant: rs[i].headers[Headers.tenant], batch: open(directory, rs[i]) });
    return batches;
  };
  const isOurs = (r: RawRecord) => TENANTS.includes(r.headers[Headers.tenant] ?? '');
  await readRawRecords(kafka, Topics.telemetry.name, { filter: isOurs, until: (rs) => until(openNew(rs)), timeoutMs: 30_000 });
  expect(until(batches)).toBe(true);
  return batches;
}

/** Sends raw HTTP: headers declaring `declared` bytes, then only `sent` bytes; resolves with the status line and how long the server kept the socket. */
function partialPost(port: number, headers: Record<string, string>, declared: number | 'chunked', sent: number): Promise<{ statusLine: string; closed: boolean; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let response = '';
    let closed = false;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer before the body was sent; got: ${response.slice(0, 80)}`));
    }, 5_000);
    socket.on('connect', () => {
      const length = declared === 'chunked' ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(declared) };
      const head = Object.entries({ host: 'x', 'content-type': 'application/json', ...length, ...headers })
        .map(([k, v]) => `${k}: ${v}`)
        .join('\r\n');
      socket.write(`POST /v1/ingest/metrics HTTP/1.1\r\n${head}\r\n\r\n`);
      const data = '{"points":[' + ' '.repeat(Math.max(0, sent - 11));
      socket.write(declared === 'chunked' ? `${data.length.toString(16)}\r\n${data}\r\n` : data);
    });
    socket.on('data', (d) => (response += d.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      closed = true;
      clearTimeout(timer);
      resolve({ statusLine: response.split('\r\n')[0], closed, body: response.slice(response.indexOf('\r\n\r\n') + 4) });
    });
  });
}

describe('the ingest edge (two collectors replicas sharing Redis, control, real Kafka)', () => {
  let directory: TenantDirectory;

  beforeAll(async () => {
    await controlProcess.start();
    await Promise.all(replicas.map((r) => r.start()));
    const limits: Record<string, object> = { [S]: { maxActiveSeries: 100 }, [R]: { ratePerSecond: 10, burst: 100 } };
    for (const t of TENANTS) {
      expect((await control.createTenant({ id: t, displayName: `Tenant ${t}`, ...(limits[t] ? { limits: limits[t] } : {}) })).status).toBe(201);
      keys[t] = await control.createApiKey(t, ['ingest']);
    }
    directory = await directoryFor(TENANTS);
    for (const t of [H, N, S]) for (const i of [0, 1]) await expectEventually(async () => expect((await post(i, t, { points: [point(metric('warmup'))] })).status).toBe(202));
    await expectEventually(async () => expect((await post(0, R, { points: [point(metric('warmup'))] })).status).toBe(202));
  }, 120_000);

  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    await controlProcess.stop();
  }, 60_000);

  const now = () => Date.now();
  const labels31 = () => Object.fromEntries(Array.from({ length: 31 }, (_, i) => [`l${i}`, 'v']));
  const cases: { name: string; raw?: () => string; point?: () => object; path: string; reason: string; message?: RegExp }[] = [
    { name: 'an infinite value (1e999 in JSON)', raw: () => `{"points":[{"name":"${metric('bad')}","value":1e999,"timestamp":${now()}}]}`, path: 'points.0.value', reason: 'invalid_value' },
    { name: 'a value whose sums would overflow (1e308)', point: () => point(metric('bad'), { value: 1e308 }), path: 'points.0.value', reason: 'value_out_of_range' },
    { name: 'a point stamped in 2099', point: () => point(metric('bad'), { timestamp: Date.UTC(2099, 0, 1) }), path: 'points.0.timestamp', reason: 'too_far_in_future', message: /creationGracePeriodMs=600000 \(raise it per tenant via control: PATCH \/v1\/tenants\/.*\/limits\)/ },
    { name: 'a point 2 h old', point: () => point(metric('bad'), { timestamp: now() - 7_200_000 }), path: 'points.0.timestamp', reason: 'sample_too_old', message: /maxSampleAgeMs=3600000/ },
    { name: 'an invalid metric name', point: () => point('api-latency'), path: 'points.0.name', reason: 'invalid_metric_name' },
    { name: 'an invalid label name', point: () => point(metric('bad'), { labels: { 'route-name': 'x' } }), path: 'points.0.labels.route-name', reason: 'invalid_label_name' },
    { name: 'the reserved label __name__', point: () => point(metric('bad'), { labels: { __name__: 'x' } }), path: 'points.0.labels.__name__', reason: 'reserved_label_name' },
    { name: 'the reserved label le', point: () => point(metric('bad'), { labels: { le: '0.5' } }), path: 'points.0.labels.le', reason: 'reserved_label_name' },
    { name: 'the reserved label quantile', point: () => point(metric('bad'), { labels: { quantile: '0.99' } }), path: 'points.0.labels.quantile', reason: 'reserved_label_name' },
    { name: 'U+0000 in a label value', point: () => point(metric('bad'), { labels: { route: 'a\u0000b' } }), path: 'points.0.labels.route', reason: 'invalid_label_value', message: /control characters/ },
    { name: 'a lone surrogate in a label value', point: () => point(metric('bad'), { labels: { route: '\ud800' } }), path: 'points.0.labels.route', reason: 'invalid_label_value', message: /lone surrogate/ },
    { name: 'too many labels', point: () => point(metric('bad'), { labels: labels31() }), path: 'points.0.labels', reason: 'max_label_names_per_series', message: /maxLabelNamesPerSeries=30/ },
    { name: 'a label value too long', point: () => point(metric('bad'), { labels: { route: 'v'.repeat(3000) } }), path: 'points.0.labels.route', reason: 'label_value_too_long', message: /label value length is 3000, over the tenant limit maxLabelValueLength=2048/ },
    { name: 'a label name too long', point: () => point(metric('bad'), { labels: { ['n'.repeat(1100)]: 'v' } }), path: `points.0.labels.${'n'.repeat(1100)}`, reason: 'label_name_too_long' },
  ];

  it.each(cases)('refuses $name with the path and reason, counted; the normal tenant is unaffected', async (c) => {
    const before = await discarded(H, c.reason);
    const beforeSiblings = await discarded(H, 'invalid_batch');
    const body = c.raw ? undefined : { points: [c.point!(), point(metric('sibling'))] };
    const res = await post(0, H, body, { raw: c.raw?.() });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_request');
    expect(res.body.issues).toEqual([expect.objectContaining({ path: c.path, reason: c.reason })]);
    if (c.message) expect(res.body.issues![0].message).toMatch(c.message);
    await normalSends(1);
    expect(await discarded(H, c.reason)).toBe(before + 1);
    // The valid sibling of a refused batch is refused with it, and counted too.
    if (body) expect(await discarded(H, 'invalid_batch')).toBe(beforeSiblings + 1);
  });

  it('refuses an unauthenticated 5 MB body with 401 before reading it, and closes the connection', async () => {
    const before = await counter('headroom_ingest_refused_requests_total', { tenant: 'unknown', reason: 'unauthorized' });
    // Only 64 KB of the declared 5 MB is ever sent: an answer proves the body was not awaited.
    const res = await partialPost(replicas[0].port, { authorization: 'Bearer hr_0123456789abcdef_nope' }, 5_000_000, 65_536);
    expect(res.statusLine).toMatch(/^HTTP\/1\.1 401/);
    expect(res.closed).toBe(true);
    const noAuth = await partialPost(replicas[1].port, {}, 5_000_000, 1024);
    expect(noAuth.statusLine).toMatch(/^HTTP\/1\.1 401/);
    expect(await counter('headroom_ingest_refused_requests_total', { tenant: 'unknown', reason: 'unauthorized' })).toBe(before + 2);
    await normalSends();
  });

  it('refuses a body over INGEST_MAX_BODY_BYTES with 413 and the limit named, declared or streamed', async () => {
    const before = await counter('headroom_ingest_refused_requests_total', { tenant: H, reason: 'payload_too_large' });
    // Declared: answered before the body is sent (only 1 KB of 5 MiB is ever written), connection closed.
    const declared = await partialPost(replicas[0].port, { authorization: `Bearer ${keys[H]}` }, 5 * 1024 * 1024, 1024);
    expect(declared.statusLine).toMatch(/^HTTP\/1\.1 413/);
    expect(declared.closed).toBe(true);
    expect(JSON.parse(declared.body)).toEqual({ error: 'payload_too_large', message: expect.stringMatching(/over the ingest limit of 4194304 bytes \(INGEST_MAX_BODY_BYTES/) });
    expect(await counter('headroom_ingest_refused_requests_total', { tenant: H, reason: 'payload_too_large' })).toBe(before + 1);
    // Streamed without Content-Length: Fastify's body limit (the same setting) cuts it off with the same status and shape.
    const streamed = await partialPost(replicas[1].port, { authorization: `Bearer ${keys[H]}` }, 'chunked', 5 * 1024 * 1024);
    expect(streamed.statusLine).toMatch(/^HTTP\/1\.1 413/);
    expect(JSON.parse(streamed.body)).toMatchObject({ error: 'payload_too_large' });
    await normalSends();
  });

  it('accepts a valid 10,000-point batch (202) and every point reaches the topic', async () => {
    const name = metric('tenk');
    const res = await post(1, N, { points: Array.from({ length: 10_000 }, (_, i) => ({ name, labels: { route: `/r${i % 50}`, region: 'eu-west-1', pod: `api-${i % 7}` }, value: i, timestamp: Date.now() })) });
    expect(res.status).toBe(202);
    const batches = await telemetry(directory, (bs) => bs.filter((b) => b.batch.batchId === res.body.batchId).reduce((n, b) => n + b.batch.points.length, 0) >= 10_000);
    const points = batches.filter((b) => b.batch.batchId === res.body.batchId).flatMap((b) => b.batch.points);
    expect(points).toHaveLength(10_000);
    expect(new Set(points.map((p) => p.value)).size).toBe(10_000);
  });

  it('shares the rate limit across replicas: a flood split over both is refused with 429 and Retry-After', async () => {
    const name = metric('rate');
    const many = (n: number) => ({ points: Array.from({ length: n }, (_, i) => point(name, { value: i })) });
    const first = await post(0, R, many(60));
    expect(first.status).toBe(202);
    rateBatch = first.body.batchId!;
    // A per-replica bucket would have 100 tokens here; the shared one has ~40 left.
    const before = await discarded(R, 'rate_limited');
    const second = await post(1, R, many(60));
    expect(second.status).toBe(429);
    expect(second.body).toMatchObject({ error: 'rate_limited', message: expect.stringMatching(/over the tenant limit ratePerSecond=10 \(burst=100\).*PATCH \/v1\/tenants\//) });
    expect(Number(second.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await discarded(R, 'rate_limited')).toBe(before + 60);
    await normalSends(1);
    const tooBig = await post(0, R, many(101));
    expect(tooBig).toMatchObject({ status: 429, body: { message: expect.stringMatching(/burst=100: split it/) } });
  });

  it('shares the active-series limit across replicas, keeps known series flowing, and applies a raised limit from control without restart', async () => {
    const name = metric('series');
    const series = (from: number, n: number) => ({ points: Array.from({ length: n }, (_, i) => ({ name, labels: { id: `s${from + i}` }, value: 1, timestamp: Date.now() })) });
    expect((await post(0, S, series(0, 60))).status).toBe(202);
    const before = await discarded(S, 'per_user_series_limit');
    // 1 warm-up + 60 active; 60 more on the other replica would make 121 > 100.
    const flood = await post(1, S, series(60, 60));
    expect(flood.status).toBe(429);
    expect(flood.body).toMatchObject({ error: 'series_limit', message: expect.stringMatching(/60 new series; with 61 active it is over the tenant limit maxActiveSeries=100/) });
    expect(await discarded(S, 'per_user_series_limit')).toBe(before + 60);
    // Known series still get in, on either replica; nothing of the refused batch became active.
    expect((await post(1, S, series(0, 60))).status).toBe(202);
    expect((await post(1, S, series(60, 39))).status).toBe(202);
    expect((await post(0, S, series(99, 1))).status).toBe(429);
    await normalSends();

    const badPatch = await control.request<{ issues: Issue[] }>('PATCH', `/v1/tenants/${S}/limits`, { maxActiveSeries: -1 });
    expect(badPatch.status).toBe(400);
    expect(badPatch.body.issues[0].path).toBe('maxActiveSeries');
    const patch = await control.request<{ overrides: object }>('PATCH', `/v1/tenants/${S}/limits`, { maxActiveSeries: 200 });
    expect(patch).toMatchObject({ status: 200, body: { overrides: { maxActiveSeries: 200 } } });
    await expectEventually(async () => expect((await post(0, S, series(99, 60))).status).toBe(202));
    await expectEventually(async () => expect((await post(1, S, series(159, 10))).status).toBe(202));
  });

  it('answers a retried Idempotency-Key with the first answer, publishes it once, and a concurrent duplicate with 409', async () => {
    const name = metric('idem');
    const key = `batch-${run}-1`;
    const body = { points: [point(name, { value: 7 })] };
    const first = await post(0, N, body, { headers: { 'idempotency-key': key } });
    expect(first.status).toBe(202);
    const retry = await post(1, N, body, { headers: { 'idempotency-key': key } });
    expect(retry).toMatchObject({ status: 202, body: first.body });
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    // The same key from another tenant is another key.
    const other = await post(0, H, body, { headers: { 'idempotency-key': key } });
    expect(other.status).toBe(202);
    expect(other.body.batchId).not.toBe(first.body.batchId);

    const bigKey = `batch-${run}-2`;
    const big = { points: Array.from({ length: 10_000 }, (_, i) => point(name, { value: i, labels: { route: `/r${i % 100}` } })) };
    const both = await Promise.all([0, 1].map((i) => post(i, N, big, { headers: { 'idempotency-key': bigKey } })));
    expect(both.map((r) => r.status).sort()).toEqual([202, 409]);
    expect(both.find((r) => r.status === 409)!.body).toMatchObject({ error: 'conflict', message: expect.stringMatching(/Idempotency-Key/) });
    const winner = both.find((r) => r.status === 202)!;
    const again = await post(1, N, big, { headers: { 'idempotency-key': bigKey } });
    expect(again.body.batchId).toBe(winner.body.batchId);
    const marker = await post(0, N, { points: [point(metric('marker'))] });

    const batches = await telemetry(directory, (bs) => [first.body.batchId, winner.body.batchId, marker.body.batchId].every((id) => bs.some((b) => b.batch.batchId === id)));
    const idemPoints = batches.filter((b) => b.tenant === N).flatMap((b) => b.batch.points).filter((p) => p.name === name);
    expect(idemPoints).toHaveLength(1 + 10_000);
    const bad = await post(0, N, body, { headers: { 'idempotency-key': 'has space' } });
    expect(bad.status).toBe(400);
  });

  it("delivers every one of the normal tenant's batches, and nothing of the hostile tenant's refused ones", async () => {
    const batches = await telemetry(directory, (bs) => [...normalBatches, rateBatch].every((id) => bs.some((b) => b.batch.batchId === id)));
    const normal = batches.filter((b) => b.tenant === N && normalBatches.includes(b.batch.batchId));
    expect(new Set(normal.map((b) => b.batch.batchId)).size).toBe(normalBatches.length);
    expect(batches.filter((b) => b.tenant === H).flatMap((b) => b.batch.points).filter((p) => p.name === metric('bad') || p.name === metric('sibling'))).toEqual([]);
    expect(batches.filter((b) => b.tenant === R).flatMap((b) => b.batch.points).filter((p) => p.name === metric('rate'))).toHaveLength(60);
  });
});
