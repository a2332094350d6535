/**
 * The per-tenant scrape endpoint as Prometheus itself reads it: Debian's Prometheus 2.42 (installed
 * by `npm run infra:up`, started here on loopback ports with its own config and data directory)
 * scrapes two exporters instances on the real Kafka and PostgreSQL — one consuming the aggregates
 * topic, one that never consumes and serves from PostgreSQL only — with each tenant's read key, at
 * 1 s and at 15 s against 10 s windows, and answers PromQL with the published values at the windows'
 * own timestamps. A second Prometheus runs with `out_of_order_time_window`, as docs/exporters.md
 * recommends. Prometheus logs: tmp/test-logs/prometheus-scrape-<port>.log.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { DynamicModule } from '@nestjs/common';
import { Registry } from 'prom-client';
import { AggregateBatchMessage, ControlRecordMessage, controlKey, Topics, type AggregateWindow, type ControlRecord } from '@headroom/contracts';
import { createWrappedKey, KeyEncryptionKey, TenantKeyring } from '@headroom/crypto';
import { loadConfig } from '@headroom/config';
import { createKafkaClient, ensureTopics, RecordPublisher } from '@headroom/kafka';
import { createLogger, listeningPort } from '@headroom/runtime';
import { generateApiKey } from '@headroom/tenancy';
import { expectEventually, testInfra, uniqueId, controlTrust } from '@headroom/testing';
import { AppModule } from '../app.module';
import { exportersEnvSchema } from '../config';
import { openMetricsContentType } from './exposition';
import { parseExposition } from './exposition.parser';
import { PrometheusModule } from './prometheus.module';

const ROOT = resolve(__dirname, '../../../..');
const W = 10_000;
const METRIC = 'api_latency_ms';
const PROMETHEUS_ACCEPT = 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

const infra = testInfra();
const kekBase64 = randomBytes(32).toString('base64');
const kek = KeyEncryptionKey.fromBase64(kekBase64, 'kek-1');
const logger = createLogger('exporters', process.env['LOG_LEVEL'] ?? 'silent');
const config = loadConfig(exportersEnvSchema, { HEADROOM_KEK: kekBase64, ...controlTrust().env, KAFKA_BROKERS: infra.brokers.join(','), DATABASE_URL: infra.databaseUrl, PORT: '0', LOG_LEVEL: 'silent' });

const tenantA = uniqueId('scrape-a');
const tenantB = uniqueId('scrape-b');
const readA = generateApiKey();
const readB = generateApiKey();

/** What each tenant published for one window, so the test knows the true values. */
interface Published {
  end: number;
  count: number;
  p95: number;
}
const publishedA: Published[] = [];
const publishedB: Published[] = [];

function window(tenant: 'A' | 'B', end: number, i: number): AggregateWindow {
  const route = tenant === 'A' ? '/a/play' : '/b/search';
  const count = tenant === 'A' ? 40 + 3 * i : 11;
  const p95 = tenant === 'A' ? 100 + 7 * i : 900 + i;
  (tenant === 'A' ? publishedA : publishedB).push({ end, count, p95 });
  return { series: { name: METRIC, labels: { route } }, seriesId: `${METRIC}-${route}`, windowStart: end - W, windowMs: W, count, sum: count * (p95 - 20), min: 1, max: p95 + 15, p50: p95 - 20, p95, p99: p95 + 5 };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

const sleepUntil = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms - Date.now())));

/** An exporters instance; `consume: false` is the same app without its aggregates consumer. */
async function boot(groupId: string, consume: boolean): Promise<{ app: NestFastifyApplication; url: string }> {
  const root = AppModule.forRoot({ ...config, EXPORTERS_GROUP_ID: groupId }, logger, new Registry());
  const module: DynamicModule = consume
    ? root
    : {
        ...root,
        imports: (root.imports ?? []).map((m) =>
          (m as DynamicModule).module === PrometheusModule ? PrometheusModule.forRoot({ groupId, stalenessSeconds: config.STALENESS_SECONDS, consume: false }) : m,
        ),
      };
  const app = await NestFactory.create<NestFastifyApplication>(module, new FastifyAdapter(), { logger: false });
  await app.listen(0, '127.0.0.1');
  const url = `http://127.0.0.1:${listeningPort(app)}`;
  await expectEventually(async () => expect((await fetch(`${url}/readyz`)).status).toBe(200), { timeoutMs: 45_000 });
  return { app, url };
}

/** Forwards scrapes to `target` asking for the text format, as a scraper that does not speak OpenMetrics would. */
async function textOnlyProxy(target: string): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const headers: Record<string, string> = { accept: 'text/plain;version=0.0.4', 'accept-encoding': 'identity' };
    if (req.headers.authorization) headers['authorization'] = req.headers.authorization;
    fetch(`${target}${req.url}`, { headers })
      .then(async (r) => res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'text/plain' }).end(await r.text()))
      .catch((err: Error) => res.writeHead(502).end(err.message));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

interface Job {
  name: string;
  interval: string;
  target: string;
  key: string;
}

/** Debian's Prometheus on a loopback port, its config and data in tmp/. */
class Prometheus {
  private child: ChildProcess | undefined;
  private exit: Promise<unknown> | undefined;
  private readonly dir: string;

  constructor(
    readonly port: number,
    private readonly jobs: Job[],
    private readonly outOfOrderWindow?: string,
  ) {
    this.dir = join(ROOT, 'tmp', 'prometheus-scrape-int', `${port}-${Date.now().toString(36)}`);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    mkdirSync(join(this.dir, 'data'), { recursive: true });
    mkdirSync(join(ROOT, 'tmp', 'test-logs'), { recursive: true });
    const jobs = this.jobs.map(
      (j) => `  - job_name: ${j.name}
    scrape_interval: ${j.interval}
    scrape_timeout: 1s
    metrics_path: /v1/prometheus/metrics
    authorization:
      credentials: ${JSON.stringify(j.key)}
    static_configs:
      - targets: ['${new URL(j.target).host}']`,
    );
    const storage = this.outOfOrderWindow ? `storage:\n  tsdb:\n    out_of_order_time_window: ${this.outOfOrderWindow}\n` : '';
    writeFileSync(join(this.dir, 'prometheus.yml'), `${storage}scrape_configs:\n${jobs.join('\n')}\n`);
    const log = createWriteStream(join(ROOT, 'tmp', 'test-logs', `prometheus-scrape-${this.port}.log`), { flags: 'a' });
    this.child = spawn(
      'prometheus',
      [`--config.file=${join(this.dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(this.dir, 'data')}`, `--web.listen-address=127.0.0.1:${this.port}`],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child.stdout!.pipe(log);
    this.child.stderr!.pipe(log);
    this.exit = new Promise((r) => this.child!.once('exit', r));
    await expectEventually(
      async () => {
        if (this.child!.exitCode !== null) throw new Error(`prometheus on ${this.port} exited (${this.child!.exitCode}); see tmp/test-logs/prometheus-scrape-${this.port}.log`);
        expect((await fetch(`${this.url}/-/ready`)).status).toBe(200);
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    );
  }

  /** An instant query's result (vector or matrix), evaluated at `timeMs` if given. */
  async query(promql: string, timeMs?: number): Promise<{ metric: Record<string, string>; value?: [number, string]; values?: [number, string][] }[]> {
    const params = new URLSearchParams({ query: promql, ...(timeMs === undefined ? {} : { time: String(timeMs / 1000) }) });
    const body = (await (await fetch(`${this.url}/api/v1/query?${params}`)).json()) as { status: string; error?: string; data: { result: [] } };
    if (body.status !== 'success') throw new Error(`${promql}: ${body.error}`);
    return body.data.result;
  }

  /** The raw samples of one series over the last 10 minutes: [timestamp ms, value]. */
  async samples(selector: string): Promise<[number, number][]> {
    const result = await this.query(`${selector}[10m]`);
    expect(result).toHaveLength(1);
    return result[0].values!.map(([t, v]) => [Math.round(t * 1000), Number(v)]);
  }

  /** A counter from Prometheus's own /metrics page, summed over its label sets. */
  async ownCounter(name: string): Promise<number> {
    const text = await (await fetch(`${this.url}/metrics`, { headers: controlTrust().metricsHeaders })).text();
    return text
      .split('\n')
      .filter((line) => line.startsWith(`${name} `) || line.startsWith(`${name}{`))
      .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
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

describe('Prometheus endpoint scraped by the real Prometheus 2.42', () => {
  const kafka = createKafkaClient({ brokers: infra.brokers, clientId: 'prometheus-scrape-int-spec', logger });
  const keyring = new TenantKeyring(kek);
  const publisher = new RecordPublisher(kafka, keyring, undefined, { signer: controlTrust().signer });
  let consuming: Awaited<ReturnType<typeof boot>>;
  let serving: Awaited<ReturnType<typeof boot>>;
  let proxy: Awaited<ReturnType<typeof textOnlyProxy>>;
  let prometheus: Prometheus;
  let tolerant: Prometheus;
  /** The end of the first live window's predecessor: history ends here, live windows follow every 10 s. */
  let e0 = 0;

  async function groupAtEnd(): Promise<string> {
    const groupId = uniqueId('prometheus-scrape-int');
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.resetOffsets({ groupId, topic: Topics.aggregates.name, earliest: false });
    } finally {
      await admin.disconnect();
    }
    return groupId;
  }

  const publish = (windows: { A: AggregateWindow[]; B: AggregateWindow[] }) =>
    publisher.publish(AggregateBatchMessage, [
      { tenant: tenantA, value: { windows: windows.A } },
      { tenant: tenantB, value: { windows: windows.B } },
    ]);

  beforeAll(async () => {
    await ensureTopics(infra.brokers, [Topics.control, Topics.aggregates]);
    await publisher.connect();
    const at = new Date().toISOString();
    const records: ControlRecord[] = [];
    for (const tenant of [tenantA, tenantB]) {
      records.push({ kind: 'tenant', tenant, displayName: tenant, status: 'active', shards: 1, locale: 'en', createdAt: at });
      const key = createWrappedKey(kek, tenant, 'data', 1);
      keyring.add(key);
      records.push({ kind: 'data_key', ...key, state: 'active' });
    }
    records.push({ kind: 'api_key', keyId: readA.keyId, tenant: tenantA, secretHash: readA.secretHash, scopes: ['read'], createdAt: at });
    records.push({ kind: 'api_key', keyId: readB.keyId, tenant: tenantB, secretHash: readB.secretHash, scopes: ['read'], createdAt: at });
    await publisher.publish(ControlRecordMessage, records.map((value) => ({ key: controlKey(value), value })));

    // Records other runs left on the topic are sealed under other KEKs: start past them.
    consuming = await boot(await groupAtEnd(), true);
    serving = await boot(await groupAtEnd(), false);
    proxy = await textOnlyProxy(serving.url);
    // Tenant A is scraped only on the instance that does not consume; tenant B on the one that does.
    const jobs: Job[] = [
      { name: 'a-1s', interval: '1s', target: serving.url, key: readA.secret },
      { name: 'a-15s', interval: '15s', target: serving.url, key: readA.secret },
      { name: 'a-text-1s', interval: '1s', target: proxy.url, key: readA.secret },
      { name: 'b-1s', interval: '1s', target: consuming.url, key: readB.secret },
    ];
    prometheus = new Prometheus(await freePort(), jobs);
    tolerant = new Prometheus(await freePort(), [jobs[1]], '5m');
    await prometheus.start();
    await tolerant.start();

    // Just after a window boundary, so the text-format job has 10 s to see the newest history window.
    e0 = Math.floor(Date.now() / W) * W + W;
    await sleepUntil(e0 + 200);
    // History: six windows at once (an exporter catching up) — every one must reach Prometheus.
    const history = [-5, -4, -3, -2, -1, 0].map((k, i) => ({ end: e0 + k * W, i }));
    await publish({ A: history.map((h) => window('A', h.end, h.i)), B: history.map((h) => window('B', h.end, h.i)) });
    // Live: one window as each closes.
    for (let k = 1; k <= 4; k++) {
      await sleepUntil(e0 + k * W + 200);
      await publish({ A: [window('A', e0 + k * W, 5 + k)], B: [window('B', e0 + k * W, 5 + k)] });
    }
    // Until the 15 s job has scraped after the last window was applied (at most one interval and a bit).
    for (const p of [prometheus, tolerant]) {
      await expectEventually(async () => expect(await p.query(`count_over_time(${METRIC}_count{job="a-15s"}[10m])`)).toMatchObject([{ value: [expect.any(Number), '10'] }]), {
        timeoutMs: 40_000,
        intervalMs: 1_000,
      });
    }
  }, 180_000);

  afterAll(async () => {
    await prometheus?.stop();
    await tolerant?.stop();
    await new Promise((r) => (proxy ? proxy.server.close(r) : r(undefined)));
    await serving?.app.close();
    await consuming?.app.close();
    await publisher.disconnect();
  }, 60_000);

  const lastEnd = () => publishedA[publishedA.length - 1].end;

  it.each(['a-1s', 'a-15s'])('stores every window at its own timestamp with its published values (job %s, 10 s windows)', async (job) => {
    const expected = (field: 'count' | 'p95') => publishedA.map((p) => [p.end, p[field]]);
    expect(await prometheus.samples(`${METRIC}{job="${job}",quantile="0.95"}`)).toEqual(expected('p95'));
    expect(await prometheus.samples(`${METRIC}_count{job="${job}"}`)).toEqual(expected('count'));
  });

  it('stamps samples with the window end: timestamp() answers the window, not the scrape time', async () => {
    const middle = publishedA[7];
    for (const job of ['a-1s', 'a-15s']) {
      expect(await prometheus.query(`timestamp(${METRIC}{job="${job}",quantile="0.95"})`, middle.end + 5_000)).toMatchObject([{ value: [(middle.end + 5_000) / 1000, String(middle.end / 1000)] }]);
    }
  });

  it('answers rate() over the points counter with the points per second that were published', async () => {
    const t = lastEnd() + 5_000;
    // [1m] at t holds the counter at the ends of the windows ending t-55s..t (six samples, 50 s apart
    // end to end): the increase is the points of the last five windows, over those 50 s.
    const truePerSecond = publishedA.filter((p) => p.end > lastEnd() - 50_000).reduce((n, p) => n + p.count, 0) / 50;
    for (const job of ['a-1s', 'a-15s']) {
      const [result] = await prometheus.query(`rate(${METRIC}_points_total{job="${job}"}[1m])`, t);
      expect(Number(result.value![1])).toBeCloseTo(truePerSecond, 9);
    }
    // And the counter itself: every point published, each window once.
    const [total] = await prometheus.query(`${METRIC}_points_total{job="a-15s"}`, t);
    expect(Number(total.value![1])).toBe(publishedA.reduce((n, p) => n + p.count, 0));
  });

  it('answers avg_over_time() over the p95 gauge with the mean of the windows in range', async () => {
    const t = lastEnd() + 5_000;
    const inRange = publishedA.filter((p) => p.end > t - 60_000);
    const mean = inRange.reduce((n, p) => n + p.p95, 0) / inRange.length;
    expect(inRange).toHaveLength(6);
    for (const job of ['a-1s', 'a-15s']) {
      const [result] = await prometheus.query(`avg_over_time(${METRIC}{job="${job}",quantile="0.95"}[1m])`, t);
      expect(Number(result.value![1])).toBeCloseTo(mean, 9);
    }
  });

  it('reads the text format too: the newest window per scrape, with its timestamp (every live window at a 1 s interval)', async () => {
    const fromHistoryOn = publishedA.filter((p) => p.end >= e0);
    expect(await prometheus.samples(`${METRIC}_count{job="a-text-1s"}`)).toEqual(fromHistoryOn.map((p) => [p.end, p.count]));
    expect(await prometheus.samples(`${METRIC}_points_total{job="a-text-1s"}`)).toEqual(
      fromHistoryOn.map((p) => [p.end, publishedA.filter((q) => q.end <= p.end).reduce((n, q) => n + q.count, 0)]),
    );
  });

  it("never gives tenant B's scrape tenant A's series, nor the reverse", async () => {
    const ofJob = async (job: string) => (await prometheus.query(`{job="${job}",__name__=~"${METRIC}.*"}`)).map((r) => r.metric);
    const b = await ofJob('b-1s');
    expect(b.length).toBeGreaterThan(0);
    expect(new Set(b.map((m) => m['route']))).toEqual(new Set(['/b/search']));
    expect(await prometheus.samples(`${METRIC}{job="b-1s",quantile="0.95"}`)).toEqual(publishedB.map((p) => [p.end, p.p95]));
    for (const job of ['a-1s', 'a-15s', 'a-text-1s']) expect(new Set((await ofJob(job)).map((m) => m['route']))).toEqual(new Set(['/a/play']));
  });

  it('serves the same page from the instance that never consumed as from the one that did', async () => {
    const checks = async (url: string) => Object.keys(((await (await fetch(`${url}/readyz`)).json()) as { checks: Record<string, boolean> }).checks);
    expect(await checks(consuming.url)).toContain('aggregates_consumer');
    expect(await checks(serving.url)).not.toContain('aggregates_consumer');
    const page = async (url: string, key: string) =>
      parseExposition(await (await fetch(`${url}/v1/prometheus/metrics`, { headers: { authorization: `Bearer ${key}`, accept: 'text/plain' } })).text()).samples;
    for (const key of [readA.secret, readB.secret]) expect(await page(serving.url, key)).toEqual(await page(consuming.url, key));
  });

  it("answers Prometheus's Accept header with OpenMetrics, gzipped when asked", async () => {
    const res = await fetch(`${serving.url}/v1/prometheus/metrics`, { headers: { authorization: `Bearer ${readA.secret}`, accept: PROMETHEUS_ACCEPT, 'accept-encoding': 'gzip' } });
    expect(res.headers.get('content-type')).toBe(openMetricsContentType('1.0.0'));
    expect(res.headers.get('content-encoding')).toBe('gzip');
    const text = await res.text();
    expect(text.endsWith('# EOF\n')).toBe(true);
    expect(() => parseExposition(text, 'openmetrics')).not.toThrow();
  });

  it('re-sends recent windows, which Prometheus drops as out of order unless out_of_order_time_window covers them', async () => {
    expect(await prometheus.ownCounter('prometheus_target_scrapes_sample_out_of_order_total')).toBeGreaterThan(0);
    expect(await tolerant.ownCounter('prometheus_target_scrapes_sample_out_of_order_total')).toBe(0);
    expect(await tolerant.samples(`${METRIC}_count{job="a-15s"}`)).toEqual(publishedA.map((p) => [p.end, p.count]));
  });
});
