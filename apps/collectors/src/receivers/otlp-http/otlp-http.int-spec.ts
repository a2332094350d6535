/**
 * OTLP/HTTP metrics end to end with the real OpenTelemetry JS SDK as the peer: a MeterProvider with
 * a PeriodicExportingMetricReader and the OTLP exporters (protobuf, gzipped; JSON) pointed at
 * collectors' /v1/metrics with a tenant's ingest key; collectors and control run as processes on the
 * real Kafka, PostgreSQL and Redis. What comes out is read back from headroom.telemetry.v1 and
 * decrypted with the tenant's key rebuilt from the control topic.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { Headers, Topics, type MetricPoint, type TelemetryBatch } from '@headroom/contracts';
import { KeyEncryptionKey } from '@headroom/crypto';
import { CODEC_SEALED, createKafkaClient, readRawRecords, type RawRecord } from '@headroom/kafka';
import { TenantDirectory } from '@headroom/tenancy';
import { ControlClient, expectEventually, localSecrets, serviceEnv, ServiceProcess, silentLogger, testInfra, uniqueId, openTelemetryRecord, tenantDirectoryFor, controlTrust } from '@headroom/testing';
import { decodeExportMetricsResponse } from './otlp-proto';

const secrets = localSecrets();
const kek = KeyEncryptionKey.fromBase64(secrets.kek, 'kek-1');
const slackApiUrl = 'http://127.0.0.1:1/api/';
const controlProcess = new ServiceProcess('control', 5411, serviceEnv('control', secrets, { slackApiUrl }), 'control-otlp-int');
const collectors = new ServiceProcess('collectors', 5410, serviceEnv('collectors', secrets, { slackApiUrl }), 'collectors-otlp-int');
const control = new ControlClient(controlProcess.url, secrets.adminToken);
const kafka = createKafkaClient({ brokers: testInfra().brokers, clientId: 'otlp-int-spec', logger: silentLogger() });

const run = randomBytes(4).toString('hex');
const A = uniqueId('otlp-a');
const B = uniqueId('otlp-b');
const keys: Record<string, string> = {};
const execFileAsync = promisify(execFile);
const metric = (what: string) => `otlp.${what}.${run}`;
const promName = (what: string) => `otlp_${what}_${run}`;

/** What the services would know from the control topic, for this run's tenant(s) only. */
const directoryFor = (tenants: string[]) => tenantDirectoryFor(kafka, kek, tenants);

function open(directory: TenantDirectory, r: RawRecord): TelemetryBatch {
  // Sealed tenant data is gzipped JSON inside (compressed before sealing).
  expect(r.headers[Headers.codec]).toBe(CODEC_SEALED);
  return openTelemetryRecord(directory, r);
}

/** This run's points on the telemetry topic, per tenant (by hr-tenant), read until `until` holds. */
async function pointsOnTopic(directory: TenantDirectory, until: (byTenant: Record<string, MetricPoint[]>) => boolean): Promise<Record<string, MetricPoint[]>> {
  const ours = (r: RawRecord) => [A, B].includes(r.headers[Headers.tenant] ?? '');
  const group = (rs: RawRecord[]) => {
    const out: Record<string, MetricPoint[]> = { [A]: [], [B]: [] };
    for (const r of rs) {
      const batch = open(directory, r);
      expect(batch.source).toBe('otlp_http');
      out[r.headers[Headers.tenant]].push(...batch.points.filter((p) => p.name.includes(run)));
    }
    return out;
  };
  const records = await readRawRecords(kafka, Topics.telemetry.name, { filter: ours, until: (rs) => until(group(rs)), timeoutMs: 30_000 });
  const byTenant = group(records);
  expect(until(byTenant)).toBe(true);
  return byTenant;
}

/**
 * Runs the SDK peer (otlp-http.int-peer.ts) as a process: the OTLP exporters load `http` with a
 * dynamic import(), which Jest's module sandbox refuses. Answers the exporter's results.
 */
async function peer(args: { key?: string; encoding: 'protobuf' | 'json'; gzip?: boolean; delta?: boolean; serviceName: string; route: string }): Promise<{ code: number; error?: string; status?: number }[]> {
  const { stdout } = await execFileAsync(process.execPath, ['-r', '@swc-node/register', join(__dirname, 'otlp-http.int-peer.ts'), JSON.stringify({ ...args, url: `${collectors.url}/v1/metrics`, run })], {
    cwd: join(__dirname, '../../../../..'),
    timeout: 60_000,
  });
  return (JSON.parse(stdout.trim().split('\n').pop()!) as { results: { code: number; error?: string; status?: number }[] }).results;
}

const find = (points: MetricPoint[], name: string) => points.filter((p) => p.name === name);

async function postJson(body: unknown, key?: string): Promise<{ status: number; body: Record<string, unknown>; headers: Response['headers'] }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (key) headers['authorization'] = `Bearer ${key}`;
  const res = await fetch(`${collectors.url}/v1/metrics`, { method: 'POST', headers, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {}, headers: res.headers };
}

const gaugeRequest = (name: string, dataPoints: object[]) => ({
  resourceMetrics: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'raw' } }] }, scopeMetrics: [{ scope: { name: 'raw' }, metrics: [{ name, gauge: { dataPoints } }] }] }],
});

describe('OTLP/HTTP metrics receiver (collectors and control as processes; the OpenTelemetry JS SDK as the peer)', () => {
  let directory: TenantDirectory;

  beforeAll(async () => {
    await controlProcess.start();
    await collectors.start();
    for (const t of [A, B]) {
      expect((await control.createTenant({ id: t, displayName: `OTLP ${t}` })).status).toBe(201);
      keys[t] = await control.createApiKey(t, ['ingest']);
    }
    directory = await directoryFor([A, B]);
    // collectors learns the keys from the control topic.
    for (const t of [A, B]) await expectEventually(async () => expect((await postJson({}, keys[t])).status).toBe(200));
  }, 120_000);

  afterAll(async () => {
    await collectors.stop();
    await controlProcess.stop();
  }, 60_000);

  it("protobuf exporter (gzip) and JSON exporter (delta): points arrive decrypted, mapped, under each key's tenant only", async () => {
    // ExportResultCode.SUCCESS (0): collectors answered 200 with an ExportMetricsServiceResponse.
    const [proto, json] = await Promise.all([
      peer({ key: keys[A], encoding: 'protobuf', gzip: true, serviceName: 'checkout', route: '/play' }),
      peer({ key: keys[B], encoding: 'json', delta: true, serviceName: 'billing', route: '/pay' }),
    ]);
    expect(proto).toEqual([{ code: 0 }]);
    expect(json).toEqual([{ code: 0 }]);

    const byTenant = await pointsOnTopic(directory, (t) => t[A].length >= 7 && t[B].length >= 7);
    const a = byTenant[A];
    const b = byTenant[B];
    const resourceA = { service_name: 'checkout', service_instance_id: 'checkout-1', otel_scope_name: 'headroom.otlp.int' };
    expect(find(a, promName('plays'))).toEqual([{ name: promName('plays'), labels: { http_route: '/play', key_le: 'x', ...resourceA }, value: 5, timestamp: expect.any(Number), unit: '{play}' }]);
    expect(find(a, promName('queue_depth'))).toEqual([{ name: promName('queue_depth'), labels: resourceA, value: 3, timestamp: expect.any(Number) }]);
    expect(find(a, promName('temperature'))).toEqual([{ name: promName('temperature'), labels: { room_id: '7', ...resourceA }, value: 21.5, timestamp: expect.any(Number), unit: 'Cel' }]);
    const h = promName('http_server_duration');
    expect(Object.fromEntries(a.filter((p) => p.name.startsWith(h)).map((p) => [p.name, p.value]))).toEqual({ [`${h}_count`]: 4, [`${h}_sum`]: 300, [`${h}_min`]: 10, [`${h}_max`]: 240 });
    expect(a.every((p) => Math.abs(p.timestamp - Date.now()) < 60_000)).toBe(true);
    expect(a.some((p) => 'host_arch' in p.labels)).toBe(false);

    const resourceB = { service_name: 'billing', service_instance_id: 'billing-1', otel_scope_name: 'headroom.otlp.int' };
    expect(find(b, promName('plays'))).toEqual([{ name: promName('plays'), labels: { http_route: '/pay', key_le: 'x', ...resourceB, otel_temporality: 'delta' }, value: 5, timestamp: expect.any(Number), unit: '{play}' }]);
    expect(find(b, `${h}_count`)).toEqual([{ name: `${h}_count`, labels: { http_route: '/pay', ...resourceB, otel_temporality: 'delta' }, value: 4, timestamp: expect.any(Number) }]);
    // The SDK's delta preference keeps up-down counters cumulative: no temporality label.
    expect(find(b, promName('queue_depth'))).toEqual([{ name: promName('queue_depth'), labels: resourceB, value: 3, timestamp: expect.any(Number) }]);
    // Each key wrote under its own tenant only.
    expect(a.some((p) => p.labels['service_name'] === 'billing')).toBe(false);
    expect(b.some((p) => p.labels['service_name'] === 'checkout')).toBe(false);
  }, 90_000);

  it('no key or a wrong key: 401 before the body is read; nothing published', async () => {
    expect((await postJson(gaugeRequest(promName('nokey'), [{ timeUnixNano: `${Date.now()}000000`, asDouble: 1 }]))).status).toBe(401);
    expect((await postJson({}, `hr_nope_${randomBytes(8).toString('hex')}`)).status).toBe(401);
    // The SDK without a key: its export fails with the 401 (not retried).
    expect(await peer({ encoding: 'protobuf', serviceName: 'anonymous', route: '/x' })).toEqual([{ code: 1, error: 'Unauthorized', status: 401 }]);
  }, 30_000);

  it('partial success: points the edge would refuse are dropped, counted per reason, and reported (200)', async () => {
    const now = Date.now();
    const name = metric('partial');
    const res = await postJson(
      gaugeRequest(name, [
        { timeUnixNano: `${now}000000`, asDouble: 1 },
        { timeUnixNano: `${now}000000`, asDouble: 'NaN', attributes: [{ key: 'k', value: { stringValue: 'nan' } }] },
        { timeUnixNano: `${now - 2 * 3_600_000}000000`, asDouble: 2, attributes: [{ key: 'k', value: { stringValue: 'old' } }] },
      ]),
      keys[A],
    );
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ partialSuccess: { rejectedDataPoints: '2', errorMessage: expect.stringContaining('2 of 3 data points rejected') } });
    const metrics = await (await fetch(`${collectors.url}/metrics`, { headers: controlTrust().metricsHeaders })).text();
    expect(metrics).toMatch(new RegExp(`headroom_discarded_samples_total\\{tenant="${A}",reason="invalid_value"[^}]*\\} [1-9]`));
    expect(metrics).toMatch(new RegExp(`headroom_discarded_samples_total\\{tenant="${A}",reason="sample_too_old"[^}]*\\} [1-9]`));
    const byTenant = await pointsOnTopic(directory, (t) => t[A].some((p) => p.name === promName('partial')));
    expect(find(byTenant[A], promName('partial'))).toEqual([{ name: promName('partial'), labels: { service_name: 'raw', otel_scope_name: 'raw' }, value: 1, timestamp: now }]);

    // protobuf answer for a protobuf request, with nothing rejected: an empty ExportMetricsServiceResponse.
    const empty = await fetch(`${collectors.url}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf', authorization: `Bearer ${keys[A]}` }, body: new Uint8Array(0) });
    expect(empty.status).toBe(200);
    expect(empty.headers.get('content-type')).toContain('application/x-protobuf');
    expect(decodeExportMetricsResponse(new Uint8Array(await empty.arrayBuffer()))).toEqual({});
    // Not an ExportMetricsServiceRequest: 400; not gzip although it says so: 400.
    expect((await postJson({ resourceMetrics: 'x' }, keys[A])).status).toBe(400);
    const badGzip = await fetch(`${collectors.url}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', authorization: `Bearer ${keys[A]}` }, body: '{}' });
    expect(badGzip.status).toBe(400);
  }, 60_000);

  it("a gzip bomb from one tenant gets 413 at the body limit, while the other tenant's points go through", async () => {
    // 200 MB of zeros in ~200 KB: cut off at INGEST_MAX_BODY_BYTES (4 MiB) as it inflates.
    const bomb = gzipSync(Buffer.alloc(200 * 1024 * 1024), { level: 9 });
    const now = Date.now();
    const [hostile, normal] = await Promise.all([
      fetch(`${collectors.url}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', authorization: `Bearer ${keys[A]}` }, body: bomb }),
      postJson(gaugeRequest(metric('beside_bomb'), [{ timeUnixNano: `${now}000000`, asDouble: 7 }]), keys[B]),
    ]);
    expect(hostile.status).toBe(413);
    expect(normal.status).toBe(200);
    const byTenant = await pointsOnTopic(directory, (t) => t[B].some((p) => p.name === promName('beside_bomb')));
    expect(find(byTenant[B], promName('beside_bomb'))).toMatchObject([{ value: 7, timestamp: now }]);
  }, 60_000);

  it('a request over the edge batch size (10,000 points) is published as several batches', async () => {
    const now = Date.now();
    const name = metric('wide');
    const dataPoints = Array.from({ length: 12_000 }, (_, i) => ({ timeUnixNano: `${now}000000`, asInt: String(i), attributes: [{ key: 'i', value: { intValue: String(i) } }] }));
    const res = await postJson(gaugeRequest(name, dataPoints), keys[B]);
    expect(res).toMatchObject({ status: 200, body: {} });
    const byTenant = await pointsOnTopic(directory, (t) => find(t[B], promName('wide')).length >= 12_000);
    const wide = find(byTenant[B], promName('wide'));
    expect(wide).toHaveLength(12_000);
    expect(new Set(wide.map((p) => p.labels['i'])).size).toBe(12_000);
  }, 60_000);
});
