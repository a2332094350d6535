/**
 * The remote_write receiver end to end: collectors and control as processes on the real Kafka,
 * PostgreSQL and Redis, and Debian's real Prometheus (2.42, installed by `npm run infra:up`)
 * remote-writing its own metrics to /api/v1/push with a tenant's ingest key. What arrives is read
 * back from headroom.telemetry.v1 and decrypted with the tenant's key rebuilt from the control topic.
 * Ports: control 5421, collectors 5420, an X-Scope-OrgID-adding proxy 5422, Prometheus 9390 and
 * 9391 (loopback).
 *
 * Debian's Prometheus 2.42 parses `remote_write.headers` but never sends them
 * (prometheus/prometheus#13030, Debian's build), so the X-Scope-OrgID test puts the header on with a
 * small proxy in front of collectors — what Cortex's docs did with nginx before `headers` existed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { createWriteStream, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { compressSync } from 'snappy';
import { Headers, TelemetryBatchMessage, Topics, WriteRequestType, type MetricPoint, type TelemetryBatch } from '@headroom/contracts';
import { KeyEncryptionKey } from '@headroom/crypto';
import { createKafkaClient, readRawRecords, type RawRecord } from '@headroom/kafka';
import { TenantDirectory } from '@headroom/tenancy';
import { ControlClient, expectEventually, localSecrets, serviceEnv, ServiceProcess, silentLogger, testInfra, uniqueId, openTelemetryRecord, tenantDirectoryFor, controlTrust } from '@headroom/testing';

const ROOT = resolve(__dirname, '../../../../..');
const secrets = localSecrets();
const kek = KeyEncryptionKey.fromBase64(secrets.kek, 'kek-1');
const slackApiUrl = 'http://127.0.0.1:1/api/';
const controlProcess = new ServiceProcess('control', 5421, serviceEnv('control', secrets, { slackApiUrl }), 'control-prw-int');
const collectors = new ServiceProcess('collectors', 5420, serviceEnv('collectors', secrets, { slackApiUrl }), 'collectors-prw-int');
const control = new ControlClient(controlProcess.url, secrets.adminToken);
const kafka = createKafkaClient({ brokers: testInfra().brokers, clientId: 'prw-int-spec', logger: silentLogger() });
const PUSH = `${collectors.url}/api/v1/push`;

const A = uniqueId('prw-a');
const B = uniqueId('prw-b');
const keys: Record<string, string> = {};
const run = Date.now().toString(36);
const metric = (what: string) => `prw_${what}_${run}`;

type Series = { labels: Record<string, string>; samples: [number, number][] };

function writeRequest(series: Series[]): Buffer {
  const message = WriteRequestType.fromObject({
    timeseries: series.map((s) => ({ labels: Object.entries(s.labels).map(([name, value]) => ({ name, value })), samples: s.samples.map(([value, timestamp]) => ({ value, timestamp })) })),
  });
  return compressSync(Buffer.from(WriteRequestType.encode(message).finish()));
}

async function push(body: Buffer, opts: { key?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; body: string }> {
  const headers: Record<string, string> = { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy', 'x-prometheus-remote-write-version': '0.1.0', ...opts.headers };
  if (opts.key) headers['authorization'] = `Bearer ${opts.key}`;
  const res = await fetch(PUSH, { method: 'POST', headers, body });
  return { status: res.status, body: await res.text() };
}

/** The value of a counter on a /metrics page for the given labels (0 when absent). */
async function counter(url: string, name: string, labels: Record<string, string>): Promise<number> {
  // The token is for Headroom's own /metrics; Prometheus's ignores it.
  const text = await (await fetch(url, { headers: controlTrust().metricsHeaders })).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** What the services would know from the control topic, for this run's tenant(s) only. */
const directoryFor = (tenants: string[]) => tenantDirectoryFor(kafka, kek, tenants);

function open(directory: TenantDirectory, r: RawRecord, tenant = r.headers[Headers.tenant]): TelemetryBatch {
  return openTelemetryRecord(directory, r, tenant);
}

/** Forwards every request to collectors with `X-Scope-OrgID: orgId` added. */
function orgIdProxy(port: number, orgId: string): Promise<Server> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && !['host', 'content-length', 'connection'].includes(k)) headers[k] = v;
      headers['x-scope-orgid'] = orgId;
      fetch(`${collectors.url}${req.url}`, { method: req.method, headers, body: Buffer.concat(chunks) })
        .then(async (r) => res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'text/plain' }).end(Buffer.from(await r.arrayBuffer())))
        .catch((err: Error) => res.writeHead(502).end(err.message));
    });
  });
  return new Promise((r) => server.listen(port, '127.0.0.1', () => r(server)));
}

/** Debian's Prometheus, scraping itself every second and remote-writing to collectors. */
class Prometheus {
  private child: ChildProcess | undefined;
  private exit: Promise<unknown> | undefined;
  readonly dir: string;

  constructor(
    readonly port: number,
    private readonly remoteWrite: { credentials: string; orgId?: string; url?: string },
  ) {
    this.dir = join(ROOT, 'tmp', 'prw-int', `${port}-${run}`);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    mkdirSync(join(this.dir, 'data'), { recursive: true });
    const headers = this.remoteWrite.orgId ? `\n    headers:\n      X-Scope-OrgID: ${JSON.stringify(this.remoteWrite.orgId)}` : '';
    writeFileSync(
      join(this.dir, 'prometheus.yml'),
      `global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ['127.0.0.1:${this.port}']
remote_write:
  - url: ${this.remoteWrite.url ?? PUSH}
    authorization:
      credentials: ${JSON.stringify(this.remoteWrite.credentials)}${headers}
    queue_config:
      batch_send_deadline: 1s
      min_backoff: 100ms
      max_backoff: 1s
    metadata_config:
      send_interval: 2s
`,
    );
    const log = createWriteStream(join(ROOT, 'tmp', 'test-logs', `prometheus-prw-${this.port}.log`), { flags: 'a' });
    this.child = spawn(
      'prometheus',
      [`--config.file=${join(this.dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(this.dir, 'data')}`, `--web.listen-address=127.0.0.1:${this.port}`, '--log.level=info'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child.stdout!.pipe(log);
    this.child.stderr!.pipe(log);
    this.exit = new Promise((r) => this.child!.once('exit', r));
    await expectEventually(
      async () => {
        if (this.child!.exitCode !== null) throw new Error(`prometheus on ${this.port} exited (${this.child!.exitCode}); see tmp/test-logs/prometheus-prw-${this.port}.log`);
        expect((await fetch(`${this.url}/-/ready`)).status).toBe(200);
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    );
  }

  async stop(): Promise<void> {
    if (!this.child || !this.exit) return;
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), 10_000);
    await this.exit;
    clearTimeout(timer);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

describe('Prometheus remote_write receiver (real Prometheus 2.42 → collectors process → Kafka)', () => {
  let directory: TenantDirectory;
  let promB: Prometheus;
  let promAWithKey: Prometheus;
  let proxy: Server | undefined;

  beforeAll(async () => {
    mkdirSync(join(ROOT, 'tmp', 'test-logs'), { recursive: true });
    await controlProcess.start();
    await collectors.start();
    for (const t of [A, B]) {
      expect((await control.createTenant({ id: t, displayName: `Tenant ${t}` })).status).toBe(201);
      keys[t] = await control.createApiKey(t, ['ingest']);
    }
    directory = await directoryFor([A, B]);
    // collectors learns the keys from the control topic: wait until each is accepted.
    for (const t of [A, B]) {
      await expectEventually(async () => expect((await push(writeRequest([{ labels: { __name__: metric('warmup') }, samples: [[1, Date.now()]] }]), { key: keys[t] })).status).toBe(204));
    }
    promAWithKey = new Prometheus(9390, { credentials: keys[A], orgId: A });
    // Through the proxy (see the top of this file); `orgId` is in its config too, for when headers are sent.
    promB = new Prometheus(9391, { credentials: keys[B], orgId: A, url: 'http://127.0.0.1:5422/api/v1/push' });
  }, 120_000);

  afterAll(async () => {
    await promAWithKey?.stop();
    await promB?.stop();
    await new Promise((r) => (proxy ? proxy.close(r) : r(undefined)));
    await collectors.stop();
    await controlProcess.stop();
  }, 60_000);

  /** Telemetry records of this run's tenants, read until `until` holds. */
  async function telemetry(until: (rs: RawRecord[]) => boolean): Promise<RawRecord[]> {
    const ours = (r: RawRecord) => [A, B].includes(r.headers[Headers.tenant] ?? '');
    const records = await readRawRecords(kafka, Topics.telemetry.name, { filter: ours, until, timeoutMs: 30_000 });
    expect(until(records)).toBe(true);
    return records;
  }
  const pointsOf = (rs: RawRecord[], tenant: string): (MetricPoint & { source: string })[] =>
    rs.filter((r) => r.headers[Headers.tenant] === tenant).flatMap((r) => {
      const b = open(directory, r);
      return b.points.map((p) => ({ ...p, source: b.source }));
    });

  it('refuses without a key (401), undecodable bodies (400), other tenants named in X-Scope-OrgID (403); accepts metadata-only requests (204)', async () => {
    const body = writeRequest([{ labels: { __name__: metric('auth') }, samples: [[1, Date.now()]] }]);
    expect((await push(body)).status).toBe(401);
    expect((await push(body, { key: 'hr_nope_nope' })).status).toBe(401);
    const bad = await push(Buffer.from('not snappy, not protobuf'), { key: keys[A] });
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body)).toMatchObject({ error: 'invalid_request', message: expect.stringMatching(/snappy/) });
    const other = await push(body, { key: keys[B], headers: { 'x-scope-orgid': A } });
    expect(other.status).toBe(403);
    expect(JSON.parse(other.body)).toMatchObject({ error: 'tenant_mismatch' });
    expect((await push(body, { key: keys[A], headers: { 'x-scope-orgid': A } })).status).toBe(204);
    expect((await push(writeRequest([]), { key: keys[A] })).status).toBe(204);
    expect(await counter(`${collectors.url}/metrics`, 'headroom_ingest_refused_requests_total', { tenant: B, reason: 'tenant_mismatch' })).toBeGreaterThanOrEqual(1);
  });

  it('drops and counts what the edge would refuse, publishes the rest, and splits requests over 10,000 samples', async () => {
    const now = Date.now();
    const big = metric('big');
    const kept = metric('kept');
    const before = await counter(`${collectors.url}/metrics`, 'headroom_discarded_samples_total', { tenant: A, reason: 'reserved_label_name' });
    const series: Series[] = [
      { labels: { __name__: kept, job: 'j' }, samples: [[7, now]] },
      { labels: { __name__: `${kept}_bucket`, le: '0.5', job: 'j' }, samples: [[1, now], [2, now]] },
      { labels: { __name__: metric('nan'), job: 'j' }, samples: [[NaN, now]] },
      // 12,000 samples: 1,200 series × 10 (more than one edge batch).
      ...Array.from({ length: 1200 }, (_, i): Series => ({ labels: { __name__: big, series: String(i) }, samples: Array.from({ length: 10 }, (_, k): [number, number] => [k, now - 10_000 + k * 1000]) })),
    ];
    expect((await push(writeRequest(series), { key: keys[A] })).status).toBe(204);
    expect(await counter(`${collectors.url}/metrics`, 'headroom_discarded_samples_total', { tenant: A, reason: 'reserved_label_name' })).toBe(before + 2);
    expect(await counter(`${collectors.url}/metrics`, 'headroom_discarded_samples_total', { tenant: A, reason: 'invalid_value' })).toBeGreaterThanOrEqual(1);
    const records = await telemetry((rs) => pointsOf(rs, A).filter((p) => p.name === big).length >= 12_000 && pointsOf(rs, A).some((p) => p.name === kept));
    const points = pointsOf(records, A);
    expect(points.filter((p) => p.name === big)).toHaveLength(12_000);
    expect(points.find((p) => p.name === kept)).toMatchObject({ labels: { job: 'j' }, value: 7, timestamp: now, source: 'prometheus_remote_write' });
    expect(points.some((p) => p.name === `${kept}_bucket` || p.name === metric('nan'))).toBe(false);
  }, 90_000);

  it("publishes Debian's Prometheus's own metrics, remote-written with tenant A's key, as A's points (decryptable with A's key only)", async () => {
    await promAWithKey.start();
    const instance = '127.0.0.1:9390';
    const fromPromA = (p: MetricPoint) => p.labels['instance'] === instance && p.labels['job'] === 'prometheus';
    const records = await telemetry((rs) => {
      const ps = pointsOf(rs, A).filter(fromPromA);
      return ps.some((p) => p.name === 'prometheus_build_info') && ps.some((p) => p.name === 'up' && p.value === 1);
    });
    const points = pointsOf(records, A).filter(fromPromA);
    expect(points.find((p) => p.name === 'up')).toMatchObject({ labels: { instance, job: 'prometheus' }, value: 1, source: 'prometheus_remote_write' });
    expect(points.find((p) => p.name === 'prometheus_build_info')).toMatchObject({ value: 1, labels: { version: expect.stringMatching(/^2\.42/), goversion: expect.any(String) } });
    // Histogram buckets and summary quantiles were dropped (counted); their _sum and _count came through.
    expect(points.some((p) => 'le' in p.labels || 'quantile' in p.labels)).toBe(false);
    expect(points.some((p) => p.name === 'prometheus_http_request_duration_seconds_count')).toBe(true);
    expect(await counter(`${collectors.url}/metrics`, 'headroom_discarded_samples_total', { tenant: A, reason: 'reserved_label_name' })).toBeGreaterThan(2);
    // Every point is A's: the records carry A's tenant header and only A's key opens them.
    const record = records.find((r) => r.headers[Headers.tenant] === A && open(directory, r).source === 'prometheus_remote_write')!;
    expect(record.key?.split('#')[0]).toBe(A);
    expect(() => directory.keyring.decrypt({ tenant: B, topic: Topics.telemetry.name, schema: TelemetryBatchMessage.id }, 1, record.value!)).toThrow();
    // Prometheus itself saw no failure.
    expect(await counter(`${promAWithKey.url}/metrics`, 'prometheus_remote_storage_samples_failed_total', {})).toBe(0);
  }, 90_000);

  it("refuses a Prometheus with tenant B's key naming tenant A in X-Scope-OrgID: nothing of it reaches A or B", async () => {
    proxy = await orgIdProxy(5422, A);
    await promB.start();
    // Prometheus does not retry a 4xx: it counts the samples as failed.
    await expectEventually(async () => expect(await counter(`${promB.url}/metrics`, 'prometheus_remote_storage_samples_failed_total', {})).toBeGreaterThan(0), { timeoutMs: 30_000, intervalMs: 500 });
    expect(await counter(`${collectors.url}/metrics`, 'headroom_ingest_refused_requests_total', { tenant: B, reason: 'tenant_mismatch' })).toBeGreaterThan(1);
    // Markers written afterwards with each tenant's own key: once both are read, anything of promB's would have been too.
    const marker = metric('marker');
    for (const t of [A, B]) expect((await push(writeRequest([{ labels: { __name__: marker }, samples: [[1, Date.now()]] }]), { key: keys[t] })).status).toBe(204);
    const records = await telemetry((rs) => pointsOf(rs, A).some((p) => p.name === marker) && pointsOf(rs, B).some((p) => p.name === marker));
    const fromPromB = (p: MetricPoint) => p.labels['instance'] === '127.0.0.1:9391';
    expect(pointsOf(records, A).filter(fromPromB)).toEqual([]);
    expect(pointsOf(records, B).filter(fromPromB)).toEqual([]);
  }, 90_000);
});
