import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { homedir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { expectEventually } from './expect-eventually';

const ROOT = resolve(__dirname, '../../..');

/** A port the OS just handed out on 127.0.0.1 (free now; a server started right after takes it). */
export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => done(port));
    });
  });
}

/** Where `npm run infra:up` put victoria-metrics (tools/infra/victoriametrics.ts): $VICTORIA_METRICS_BIN, PATH, or the Go bin cache. */
export function victoriaMetricsBinary(): string {
  const candidates = [
    process.env['VICTORIA_METRICS_BIN'],
    ...(process.env['PATH'] ?? '').split(delimiter).map((d) => join(d, 'victoria-metrics')),
    join(process.env['GOBIN'] || join(process.env['GOPATH'] || join(homedir(), 'go'), 'bin'), 'victoria-metrics'),
  ];
  const found = candidates.find((c): c is string => !!c && existsSync(c));
  if (!found) throw new Error('victoria-metrics not found: run `npm run infra:up` (it builds it with go install) or set VICTORIA_METRICS_BIN');
  return found;
}

/** One series of a PromQL answer: its labels and [timestamp ms, value] pairs (vectors give one pair). */
export interface PromSeries {
  labels: Record<string, string>;
  samples: [number, number][];
}

interface QueryAnswer {
  status: string;
  error?: string;
  data: { resultType: string; result: { metric: Record<string, string>; value?: [number, string]; values?: [number, string][] }[] };
}

/** A real metric store run as a child process on a free loopback port with its own data directory. */
abstract class MetricStoreProcess {
  private child: ChildProcess | undefined;
  private exit: Promise<unknown> | undefined;
  port = 0;
  readonly dir: string;

  constructor(readonly name: string) {
    this.dir = join(ROOT, 'tmp', 'metric-stores', `${name}-${Date.now().toString(36)}-${process.pid}`);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  isRunning(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  protected abstract command(): { cmd: string; args: string[] };
  protected abstract readyPath: string;

  /** Starts (or restarts, on the same port and data directory) and waits until it answers ready. */
  async start(): Promise<void> {
    if (!this.port) this.port = await freePort();
    mkdirSync(this.dir, { recursive: true });
    const logDir = join(ROOT, 'tmp', 'test-logs');
    mkdirSync(logDir, { recursive: true });
    const log = createWriteStream(join(logDir, `${this.name}-${this.port}.log`), { flags: 'a' });
    const { cmd, args } = this.command();
    this.child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.pipe(log);
    this.child.stderr!.pipe(log);
    this.exit = new Promise((r) => this.child!.once('exit', r));
    let exited = false;
    void this.exit.then(() => (exited = true));
    await expectEventually(
      async () => {
        if (exited) throw new Error(`${this.name} exited during start; see tmp/test-logs/${this.name}-${this.port}.log`);
        const res = await fetch(`${this.url}${this.readyPath}`);
        if (!res.ok) throw new Error(`${this.name} not ready: ${res.status}`);
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
  }

  /** SIGTERM (a clean stop: the store flushes what it acknowledged) and waits for the exit. */
  async stop(): Promise<void> {
    if (!this.isRunning()) return;
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), 15_000);
    this.child!.kill('SIGTERM');
    await this.exit;
    clearTimeout(timer);
  }

  /** PromQL instant query at `time` (ms; default now): every series with its samples, timestamps in ms. */
  async query(promql: string, time?: number): Promise<PromSeries[]> {
    const params = new URLSearchParams({ query: promql });
    if (time !== undefined) params.set('time', String(time / 1000));
    const res = await fetch(`${this.url}/api/v1/query?${params}`);
    const body = (await res.json()) as QueryAnswer;
    if (body.status !== 'success') throw new Error(`${this.name} query ${promql} failed: ${body.error ?? res.status}`);
    return body.data.result.map((r) => ({
      labels: r.metric,
      samples: (r.values ?? (r.value ? [r.value] : [])).map(([t, v]) => [Math.round(t * 1000), Number(v)] as [number, number]),
    }));
  }
}

/**
 * VictoriaMetrics single-node (built by `npm run infra:up`), with `-search.latencyOffset=0s` so the
 * newest samples are queryable at once (the default hides the last 30 s) and the result cache off.
 */
export class VictoriaMetricsProcess extends MetricStoreProcess {
  protected readyPath = '/health';

  constructor(name = 'victoria-metrics') {
    super(name);
  }

  protected command() {
    return {
      cmd: victoriaMetricsBinary(),
      args: [`-storageDataPath=${join(this.dir, 'data')}`, `-httpListenAddr=127.0.0.1:${this.port}`, '-search.latencyOffset=0s', '-search.disableCache', '-retentionPeriod=2d', '-loggerLevel=WARN'],
    };
  }

  /** Makes everything written so far searchable now (VictoriaMetrics otherwise flushes within a second or so). */
  async flush(): Promise<void> {
    const res = await fetch(`${this.url}/internal/force_flush`);
    if (!res.ok) throw new Error(`force_flush: ${res.status}`);
  }

  override async query(promql: string, time?: number): Promise<PromSeries[]> {
    await this.flush();
    return super.query(promql, time);
  }
}

/** Debian's Prometheus as a remote_write receiver (`--web.enable-remote-write-receiver`), scraping nothing. */
export class PrometheusProcess extends MetricStoreProcess {
  protected readyPath = '/-/ready';

  constructor(name = 'prometheus') {
    super(name);
  }

  protected command() {
    const config = join(this.dir, 'prometheus.yml');
    writeFileSync(config, 'global:\n  scrape_interval: 1m\nscrape_configs: []\n');
    return {
      cmd: 'prometheus',
      args: [`--config.file=${config}`, `--storage.tsdb.path=${join(this.dir, 'data')}`, `--web.listen-address=127.0.0.1:${this.port}`, '--web.enable-remote-write-receiver', '--log.level=warn'],
    };
  }
}

/** What a tenant gateway saw: one entry per request. */
export interface GatewayRequest {
  path: string;
  headers: IncomingHttpHeaders;
  /** The tenant the gateway routed the request to (X-Scope-OrgID, or the InfluxDB `bucket`/`org`), if any. */
  tenant: string | undefined;
  status: number;
}

/**
 * A multi-tenant gateway in front of a single-node VictoriaMetrics, standing in for Mimir
 * (X-Scope-OrgID) or InfluxDB (buckets): records every request and forwards it with
 * `extra_label=org_id=<X-Scope-OrgID>` or `extra_label=bucket=<bucket query parameter>`
 * (VictoriaMetrics adds that label to every sample), so a test can read each tenant's data apart.
 * A refused upstream answers 502, as a real gateway would.
 */
export class TenantGateway {
  readonly requests: GatewayRequest[] = [];
  private server: Server | undefined;
  port = 0;

  constructor(private readonly upstream: () => string) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'http://gateway');
        const orgId = req.headers['x-scope-orgid'];
        const bucket = url.searchParams.get('bucket') ?? undefined;
        const tenant = typeof orgId === 'string' ? orgId : bucket;
        if (typeof orgId === 'string') url.searchParams.append('extra_label', `org_id=${orgId}`);
        else if (bucket) url.searchParams.append('extra_label', `bucket=${bucket}`);
        const entry: GatewayRequest = { path: url.pathname, headers: req.headers, tenant, status: 0 };
        this.requests.push(entry);
        const target = new URL(`${url.pathname}${url.search}`, this.upstream());
        const headers = { ...req.headers, host: target.host };
        const upstream = request(target, { method: req.method, headers }, (answer) => {
          entry.status = answer.statusCode ?? 0;
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        });
        upstream.on('error', (err) => {
          entry.status = 502;
          res.writeHead(502, { 'content-type': 'text/plain' }).end(`upstream: ${err.message}`);
        });
        upstream.end(Buffer.concat(chunks));
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }
}
