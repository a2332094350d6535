/**
 * collectors as a process (with control as a process for tenants and keys) against the real Kafka
 * and PostgreSQL: batches go in over HTTP exactly as producers send them; what comes out is checked
 * on headroom.telemetry.v1 byte for byte, and decrypted with the tenant's key rebuilt from the
 * control topic (the way analytics would read it). Ends with a clean shutdown on SIGTERM.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { Headers, TelemetryBatchMessage, Topics, type TelemetryBatch } from '@headroom/contracts';
import { KeyEncryptionKey } from '@headroom/crypto';
import { CODEC_SEALED, createKafkaClient, readRawRecords, type RawRecord } from '@headroom/kafka';
import { TenantDirectory } from '@headroom/tenancy';
import { ControlClient, expectEventually, localSecrets, serviceEnv, ServiceProcess, silentLogger, testInfra, uniqueId, openTelemetryRecord, tenantDirectoryFor } from '@headroom/testing';

interface Issue {
  path: string;
  message: string;
}
interface Sent {
  status: number;
  body: { batchId?: string; accepted?: { points: number; events: number }; error?: string; message?: string; issues?: Issue[] };
}

const secrets = localSecrets();
const kek = KeyEncryptionKey.fromBase64(secrets.kek, 'kek-1');
const slackApiUrl = 'http://127.0.0.1:1/api/';
const controlProcess = new ServiceProcess('control', 5151, serviceEnv('control', secrets, { slackApiUrl }), 'control-collectors-int');
const collectors = new ServiceProcess('collectors', 5110, serviceEnv('collectors', secrets, { slackApiUrl, logLevel: 'debug' }), 'collectors-int');
const control = new ControlClient(controlProcess.url, secrets.adminToken);
const kafka = createKafkaClient({ brokers: testInfra().brokers, clientId: 'collectors-int-spec', logger: silentLogger() });

const run = randomBytes(4).toString('hex');
const A = uniqueId('col-a');
const B = uniqueId('col-b');
const C = uniqueId('col-c');
/** A huge tenant spread over 4 shards (record keys `tenant#k`). */
const S = uniqueId('col-s');
/** A tenant with its own small ingest limit. */
const L = uniqueId('col-l');
/** Metric names unique to this run, so a search of the topic's bytes finds only ours. */
const metric = (what: string) => `int_${what}_${run}`;
const traceparentRe = /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/;

const keys: Record<string, { ingest: string; read: string }> = {};
/** Every batch that got a 202, per tenant: all of them must be on the topic at the end. */
const accepted: { tenant: string; batchId: string }[] = [];

/** Response headers of the last `post`. */
let lastHeaders: Response['headers'] | undefined;

async function post(body: unknown, opts: { key?: string | null; headers?: Record<string, string>; query?: string; raw?: string } = {}): Promise<Sent> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...opts.headers };
  if (opts.key) headers['authorization'] = `Bearer ${opts.key}`;
  const res = await fetch(`${collectors.url}/v1/ingest/metrics${opts.query ?? ''}`, { method: 'POST', headers, body: opts.raw ?? JSON.stringify(body) });
  const text = await res.text();
  lastHeaders = res.headers;
  return { status: res.status, body: text ? (JSON.parse(text) as Sent['body']) : {} };
}

/** Posts a valid batch for `tenant` and expects a 202; remembers it as accepted. */
async function ingest(tenant: string, body: object, headers?: Record<string, string>): Promise<string> {
  const res = await post(body, { key: keys[tenant].ingest, headers });
  expect(res).toMatchObject({ status: 202, body: { batchId: expect.any(String) } });
  accepted.push({ tenant, batchId: res.body.batchId! });
  return res.body.batchId!;
}

/** `hr_<keyId>_<random>`: the random part may itself contain `_`. */
const keyIdOf = (secret: string) => secret.split('_')[1];
const randomPartOf = (secret: string) => secret.slice(`hr_${keyIdOf(secret)}_`.length);

const point = (name: string, value = 1, extra: object = {}) => ({ name, labels: { route: '/play' }, value, timestamp: Date.now(), ...extra });

/** What the services would know from the control topic, for this run's tenants only (other runs used other KEKs). */
/** What the services would know from the control topic, for this run's tenant(s) only. */
const directoryFor = (tenants: string[]) => tenantDirectoryFor(kafka, kek, tenants);

/**
 * This run's telemetry records (by hr-tenant or key), read until `until` holds. The tenants sit on
 * different partitions, read in no particular order: `until` must name everything the test needs.
 */
async function telemetry(until: (rs: RawRecord[]) => boolean, opts: { assert?: boolean } = {}): Promise<RawRecord[]> {
  const ours = (r: RawRecord) => [A, B, C, S, L].includes(r.headers[Headers.tenant] ?? '') || [A, B, C, S, L].includes((r.key ?? '').split('#')[0]);
  const records = await readRawRecords(kafka, Topics.telemetry.name, { filter: ours, until, timeoutMs: 30_000 });
  if (opts.assert ?? true) expect(until(records)).toBe(true);
  return records;
}

function open(directory: TenantDirectory, r: RawRecord, tenant = r.headers[Headers.tenant]): TelemetryBatch {
  // Sealed tenant data is gzipped JSON inside (compressed before sealing).
  expect(r.headers[Headers.codec]).toBe(CODEC_SEALED);
  return openTelemetryRecord(directory, r, tenant);
}

const batchIdsOf = (directory: TenantDirectory, rs: RawRecord[]) => rs.map((r) => open(directory, r).batchId);

describe('collectors (process, real Kafka; control as a process)', () => {
  let directory: TenantDirectory;
  let logStart = 0;

  beforeAll(async () => {
    logStart = existsSync(collectors.logFile) ? statSync(collectors.logFile).size : 0;
    await controlProcess.start();
    await collectors.start();
    for (const t of [A, B, C]) {
      expect((await control.createTenant({ id: t, displayName: `Tenant ${t}` })).status).toBe(201);
      keys[t] = { ingest: await control.createApiKey(t, ['ingest']), read: await control.createApiKey(t, ['read']) };
    }
    expect((await control.createTenant({ id: S, displayName: 'Sharded', shards: 4 })).status).toBe(201);
    keys[S] = { ingest: await control.createApiKey(S, ['ingest']), read: await control.createApiKey(S, ['read']) };
    expect((await control.createTenant({ id: L, displayName: 'Limited', limits: { ratePerSecond: 5, burst: 10 } })).status).toBe(201);
    keys[L] = { ingest: await control.createApiKey(L, ['ingest']), read: await control.createApiKey(L, ['read']) };
    directory = await directoryFor([A, B, C, S, L]);
    // collectors learns the keys from the control topic: wait until each ingest key is accepted.
    for (const t of [A, B, C, S, L]) await expectEventually(() => ingest(t, { points: [point(metric('warmup'))] }));
  }, 120_000);

  afterAll(async () => {
    await collectors.stop();
    await controlProcess.stop();
  }, 60_000);

  it("publishes a valid batch (202) as one sealed record keyed by the tenant, decryptable only with that tenant's key", async () => {
    const name = metric('latency');
    const clientTrace = `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`;
    const res = await post({ points: [point(name, 312), point(name, 318)], events: [{ type: 'revenue', timestamp: Date.now(), amount: 1.5, currency: 'EUR', source: 'stream' }] }, {
      key: keys[A].ingest,
      headers: { traceparent: clientTrace },
    });
    expect(res).toEqual({ status: 202, body: { batchId: expect.any(String), accepted: { points: 2, events: 1 } } });
    accepted.push({ tenant: A, batchId: res.body.batchId! });
    const untraced = await ingest(A, { points: [point(name, 1)] });

    const records = await telemetry((rs) => rs.filter((r) => r.headers[Headers.tenant] === A).length >= 3 && batchIdsOf(directory, rs).includes(untraced));
    const [record] = records.filter((r) => open(directory, r).batchId === res.body.batchId);
    expect(record.key).toBe(A);
    expect(record.headers).toMatchObject({
      [Headers.tenant]: A,
      [Headers.schema]: 'telemetry-batch@1',
      [Headers.codec]: CODEC_SEALED,
      [Headers.keyVersion]: '1',
      [Headers.traceparent]: clientTrace,
    });
    const other = records.find((r) => open(directory, r).batchId === untraced)!;
    expect(other.headers[Headers.traceparent]).toMatch(traceparentRe);
    expect(other.headers[Headers.traceparent]).not.toBe(clientTrace);

    // The bytes on the topic are ciphertext: no metric name, no JSON.
    expect(record.value!.toString('latin1')).not.toContain(name);
    expect(record.value!.toString('latin1')).not.toContain('"points"');
    const batch = open(directory, record);
    expect(batch).toMatchObject({ source: 'http', points: [{ name, value: 312 }, { name, value: 318 }], events: [{ type: 'revenue', amount: 1.5 }] });
    // B's key cannot open A's record, nor can the record pass as B's.
    expect(() => directory.keyring.decrypt({ tenant: B, topic: Topics.telemetry.name, schema: TelemetryBatchMessage.id }, 1, record.value!)).toThrow();
  });

  it("enforces a tenant's own ingest limit with 429 and Retry-After, refusing a batch whole, and only for that tenant", async () => {
    const name = metric('limited');
    const many = (n: number) => ({ points: Array.from({ length: n }, (_, i) => point(name, i)) });
    const accepted = await ingest(L, many(8)); // 1 (warm-up) + 8 of a burst of 10
    const refused = await post(many(8), { key: keys[L].ingest });
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ error: 'rate_limited' });
    expect(Number(lastHeaders?.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const tooBig = await post(many(11), { key: keys[L].ingest });
    expect(tooBig.status).toBe(429);
    expect(tooBig.body.message).toMatch(/over the tenant limit burst=10/);
    await ingest(A, many(50)); // another tenant is not affected
    const records = await telemetry((rs) => rs.some((r) => r.headers[Headers.tenant] === L && open(directory, r).batchId === accepted));
    const limitedPoints = records.filter((r) => r.headers[Headers.tenant] === L).flatMap((r) => open(directory, r).points).filter((p) => p.name === name);
    expect(limitedPoints).toHaveLength(8);
  });

  it('spreads a sharded tenant over tenant#k keys, each series always on the same shard', async () => {
    const name = metric('sharded');
    const series = Array.from({ length: 40 }, (_, i) => `/r${i}`);
    const batch = () => ({ points: series.map((route) => ({ name, labels: { route }, value: 1, timestamp: Date.now() })) });
    const first = await ingest(S, batch());
    const second = await ingest(S, batch());
    // One batch becomes up to 4 records on different partitions: read until all 80 points are seen.
    const records = await telemetry((rs) =>
      rs
        .filter((r) => r.headers[Headers.tenant] === S)
        .map((r) => open(directory, r))
        .filter((b) => b.batchId === first || b.batchId === second)
        .reduce((n, b) => n + b.points.length, 0) >= 2 * series.length,
    );
    const shardOf = new Map<string, Set<string>>();
    for (const r of records.filter((x) => x.headers[Headers.tenant] === S)) {
      const b = open(directory, r);
      if (b.batchId !== first && b.batchId !== second) continue;
      expect(r.key).toMatch(new RegExp(`^${S}#[0-3]$`));
      for (const p of b.points) shardOf.set(p.labels['route'], (shardOf.get(p.labels['route']) ?? new Set()).add(r.key!));
    }
    expect([...shardOf.keys()].sort()).toEqual([...series].sort());
    for (const keysOfSeries of shardOf.values()) expect(keysOfSeries.size).toBe(1);
    expect(new Set([...shardOf.values()].map((k) => [...k][0])).size).toBeGreaterThan(1);
  });

  it("refuses a body naming another tenant (400) and publishes nothing for either; A's key never writes under B", async () => {
    const refused = metric('refused');
    for (const tenant of [B, A]) {
      const res = await post({ tenant, points: [point(refused)] }, { key: keys[A].ingest });
      expect(res.status).toBe(400);
      expect(res.body.issues).toEqual([expect.objectContaining({ path: '(root)', message: expect.stringContaining('tenant') })]);
    }
    // Every other way to name a tenant is ignored: the record is A's.
    const spoofed = metric('spoofed');
    const viaHeaders = await post({ points: [point(spoofed)] }, { key: keys[A].ingest, headers: { 'x-tenant': B, 'hr-tenant': B, 'x-headroom-tenant': B } });
    const viaQuery = await post({ points: [point(spoofed)] }, { key: keys[A].ingest, query: `?tenant=${B}` });
    for (const res of [viaHeaders, viaQuery]) {
      expect(res.status).toBe(202);
      accepted.push({ tenant: A, batchId: res.body.batchId! });
    }
    // Markers on both tenants: once both are read, anything published before them is read too.
    const markerA = await ingest(A, { points: [point(metric('marker'))] });
    const markerB = await ingest(B, { points: [point(metric('marker'))] });
    const records = await telemetry((rs) => [markerA, markerB].every((id) => batchIdsOf(directory, rs).includes(id)));

    const names = (r: RawRecord) => open(directory, r).points.map((p) => p.name);
    expect(records.filter((r) => names(r).includes(refused))).toEqual([]);
    const spoofedRecords = records.filter((r) => names(r).includes(spoofed));
    expect(spoofedRecords).toHaveLength(2);
    for (const r of spoofedRecords) expect([r.key, r.headers[Headers.tenant]]).toEqual([A, A]);
    // B's records are only B's own batches.
    const bBatches = records.filter((r) => r.headers[Headers.tenant] === B || r.key === B).map((r) => open(directory, r, B).batchId);
    expect(bBatches.sort()).toEqual(accepted.filter((a) => a.tenant === B).map((a) => a.batchId).sort());
  });

  it('answers bad input with 400 and field paths, bad credentials with 401, and loses nothing accepted before', async () => {
    const key = keys[A].ingest;
    const now = Date.now();
    const cases: { body: unknown; paths: string[] }[] = [
      { body: { points: [{ name: metric('bad'), value: 'slow', timestamp: now }] }, paths: ['points.0.value'] },
      { body: { points: [{ name: metric('bad'), value: 1, timestamp: Math.floor(now / 1000) }] }, paths: ['points.0.timestamp'] },
      { body: { events: [{ type: 'song_skip', timestamp: now }] }, paths: ['events.0.type'] },
      { body: { points: [{ name: 'bad name', value: 1, timestamp: now }, { name: metric('ok'), value: Infinity, timestamp: now }] }, paths: ['points.0.name', 'points.1.value'] },
      { body: {}, paths: ['points'] },
      { body: { points: [point(metric('bad'))], extra: true }, paths: ['(root)'] },
    ];
    for (const c of cases) {
      const res = await post(c.body, { key });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_request');
      expect(res.body.issues?.map((i) => i.path)).toEqual(expect.arrayContaining(c.paths));
      for (const issue of res.body.issues ?? []) expect(issue.message).toEqual(expect.any(String));
    }
    const seconds = await post({ points: [{ name: metric('bad'), value: 1, timestamp: Math.floor(now / 1000) }] }, { key });
    expect(seconds.body.issues?.[0].message).toMatch(/milliseconds/);

    const notJson = await post(undefined, { key, raw: '{"points": [' });
    expect(notJson.status).toBe(400);
    expect(notJson.body).toMatchObject({ message: expect.stringMatching(/not valid JSON/) });
    for (const raw of ['null', '[]', '"points"']) {
      const notObject = await post(undefined, { key, raw });
      expect(notObject.status).toBe(400);
      expect(notObject.body.issues).toEqual([expect.objectContaining({ path: '(root)', message: expect.stringMatching(/^Expected object/) })]);
    }

    const valid = { points: [point(metric('auth'))] };
    for (const bad of [null, 'hr_0123456789abcdef_' + 'A'.repeat(43), `${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`, 'not-a-key']) {
      const res = await post(valid, { key: bad });
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('unauthorized');
    }
    // A genuine key without the ingest scope is known but not allowed here.
    const readOnly = await post(valid, { key: keys[A].read });
    expect(readOnly.status).toBe(403);
    const basic = await post(valid, { headers: { authorization: `Basic ${Buffer.from(`x:${key}`).toString('base64')}` } });
    expect(basic.status).toBe(401);

    // The next valid batch still goes through, and every batch accepted so far is on the topic.
    const after = await ingest(A, { points: [point(metric('after_bad'))] });
    expect(accepted.map((a) => a.batchId)).toContain(after);
    const missing = (rs: RawRecord[]) => {
      const onTopic = new Set(batchIdsOf(directory, rs));
      return accepted.filter((a) => !onTopic.has(a.batchId));
    };
    const records = await telemetry((rs) => missing(rs).length === 0, { assert: false });
    expect(missing(records)).toEqual([]);
    expect(records.some((r) => open(directory, r).points.some((p) => p.name === metric('bad') || p.name === metric('auth')))).toBe(false);
  });

  it('pseudonymises user ids per tenant: stable within a tenant, different across tenants, never the raw id', async () => {
    const rawUser = `user-${run}`;
    const play = (trackId: string) => ({ type: 'song_play', timestamp: Date.now(), trackId, userId: rawUser, durationMs: 180_000, country: 'FR' });
    const a1 = await ingest(A, { events: [play('t1')] });
    const a2 = await ingest(A, { events: [play('t2'), { type: 'failed_login', timestamp: Date.now(), userId: rawUser, reason: 'bad_password' }] });
    const b1 = await ingest(B, { events: [play('t1')] });

    const records = await telemetry((rs) => [a1, a2, b1].every((id) => batchIdsOf(directory, rs).includes(id)));
    const userIds = (id: string) => {
      const r = records.find((x) => open(directory, x).batchId === id)!;
      expect(r.value!.toString('latin1')).not.toContain(rawUser);
      return open(directory, r).events.map((e) => ('userId' in e ? e.userId : undefined));
    };
    const [ua1] = userIds(a1);
    const [ua2, uaLogin] = userIds(a2);
    const [ub1] = userIds(b1);
    expect(ua1).toMatch(/^u_[A-Za-z0-9_-]{43}$/);
    expect(ua1).not.toContain(rawUser);
    expect(ua2).toBe(ua1);
    expect(uaLogin).toBe(ua1);
    expect(ub1).toMatch(/^u_/);
    expect(ub1).not.toBe(ua1);
    // Exactly the HMAC under each tenant's pseudonym key from the control topic.
    expect(ua1).toBe(directory.keyring.pseudonymise(A, rawUser));
    expect(ub1).toBe(directory.keyring.pseudonymise(B, rawUser));
  });

  it('takes typed events on POST /v1/ingest/events (the same edge), and sends metric points there back to /v1/ingest/metrics', async () => {
    const send = (body: unknown) =>
      fetch(`${collectors.url}/v1/ingest/events`, { method: 'POST', headers: { authorization: `Bearer ${keys[A].ingest}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const now = Date.now();
    const events = [
      { type: 'model_inference', timestamp: now, model: `recsys-${run}`, modelVersion: '3.1.0', latencyMs: 42, accuracy: 0.91 },
      { type: 'revenue', timestamp: now, amount: 9.99, currency: 'EUR', source: 'subscription' },
    ];
    const ok = await send({ events });
    expect(ok.status).toBe(202);
    const { batchId, accepted: counts } = (await ok.json()) as { batchId: string; accepted: { points: number; events: number } };
    expect(counts).toEqual({ points: 0, events: 2 });
    accepted.push({ tenant: A, batchId });
    const records = await telemetry((rs) => batchIdsOf(directory, rs).includes(batchId));
    const batch = open(directory, records.find((r) => open(directory, r).batchId === batchId)!);
    expect(batch.events.map((e) => e.type)).toEqual(['model_inference', 'revenue']);

    const points = await send({ points: [point(metric('wrong_door'))] });
    expect(points.status).toBe(400);
    expect(((await points.json()) as { issues: Issue[] }).issues.map((i) => i.path)).toEqual(['points']);
    const bad = await send({ events: [{ type: 'model_inference', timestamp: now, model: 'm', modelVersion: '1', latencyMs: 'slow' }] });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { issues: Issue[] }).issues.map((i) => i.path)).toContain('events.0.latencyMs');
    const anon = await fetch(`${collectors.url}/v1/ingest/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ events }) });
    expect(anon.status).toBe(401);
  });

  it("refuses a revoked key and an erased tenant's key with 401", async () => {
    const revoke = await control.request<{ revoked: boolean }>('DELETE', `/v1/tenants/${B}/api-keys/${keyIdOf(keys[B].read)}`);
    expect(revoke.status).toBe(200);
    const spare = await control.createApiKey(B, ['ingest']);
    await expectEventually(async () => expect((await post({ points: [point(metric('spare'))] }, { key: spare })).status).toBe(202));
    expect((await control.request('DELETE', `/v1/tenants/${B}/api-keys/${keyIdOf(spare)}`)).status).toBe(200);
    await expectEventually(async () => expect((await post({ points: [point(metric('revoked'))] }, { key: spare })).status).toBe(401));

    expect((await control.request('DELETE', `/v1/tenants/${C}`)).status).toBe(200);
    await expectEventually(async () => expect((await post({ points: [point(metric('erased'))] }, { key: keys[C].ingest })).status).toBe(401));
    // Other tenants are unaffected.
    await ingest(A, { points: [point(metric('after_erase'))] });
  });

  it('shuts down cleanly on SIGTERM (exit 0), having never logged an API key', async () => {
    const codes = [await collectors.stop(), await controlProcess.stop()];
    expect(codes).toEqual([0, 0]);
    const log = readFileSync(collectors.logFile).subarray(logStart).toString('utf8');
    expect(log).toContain('"stopped cleanly"');
    for (const t of [A, B, C]) {
      expect(log).not.toContain(keys[t].ingest);
      expect(log).not.toContain(randomPartOf(keys[t].ingest));
    }
  }, 60_000);
});
