import { HttpError, InfluxDB, Point, setLogger, type WriteApi } from '@influxdata/influxdb-client';
import type { AggregateWindow } from '@headroom/contracts';
import { classifyStatus, networkFailure } from '../http-outcome';
import type { ConfigProblem, ExportSink, SinkType } from '../sink';

export interface InfluxdbConfig {
  /** The server's base URL (InfluxDB 2.x/3.x, or anything speaking `/api/v2/write`, e.g. VictoriaMetrics). */
  url: string;
  /** API token (a secret); sent as `Authorization: Token …`. */
  token?: string;
  /**
   * `bucket`: every tenant writes to bucket `<prefix><tenant>` of org `org`. `org`: every tenant
   * writes to bucket `bucket` of org `<prefix><tenant>` (one org per tenant, for tokens scoped per org).
   * The buckets/orgs must exist: InfluxDB answers 404 until an operator creates them, which the
   * runner treats as an outage (the windows wait), not as a rejection.
   */
  tenancy: 'bucket' | 'org';
  prefix: string;
  org: string;
  bucket: string;
  timeoutMs: number;
  /** Lines per request. */
  batchSize: number;
  /** Bodies at least this large are gzipped (Content-Encoding: gzip); 0 gzips every body. */
  gzipThreshold: number;
}

const TYPE = 'influxdb';

/** One point per window: fields count (integer), sum, min, max, p50, p95, p99; ms timestamp = window end (as remote_write). */
export function toPoint(w: AggregateWindow): Point {
  const p = new Point(w.series.name);
  for (const [k, v] of Object.entries(w.series.labels)) if (v !== '') p.tag(k, v);
  return p
    .intField('count', w.count)
    .floatField('sum', w.sum)
    .floatField('min', w.min)
    .floatField('max', w.max)
    .floatField('p50', w.p50)
    .floatField('p95', w.p95)
    .floatField('p99', w.p99)
    .timestamp(w.windowStart + w.windowMs);
}

export function destination(config: InfluxdbConfig, tenant: string): { org: string; bucket: string } {
  return config.tenancy === 'bucket' ? { org: config.org, bucket: `${config.prefix}${tenant}` } : { org: `${config.prefix}${tenant}`, bucket: config.bucket };
}

function classify(err: unknown): Error {
  if (err instanceof HttpError) {
    const retryAfter = err.headers?.['retry-after'];
    return classifyStatus(TYPE, err.statusCode, err.body ?? err.message, Array.isArray(retryAfter) ? retryAfter[0] : retryAfter) ?? err;
  }
  return networkFailure(TYPE, err);
}

/**
 * The client's own buffering, timers and retries are switched off, so the runner's retry governs
 * and no window is ever acknowledged before the server has it: each `write()` gets its own WriteApi
 * (batching within the call: `batchSize` lines per request, flushed and awaited in turn),
 * `flushInterval: 0` (no background flush), `maxRetries: 0` (a failed request rejects the flush at
 * once and nothing goes into the client's retry buffer, which would otherwise resend lines behind
 * the runner's back and drop them when full). gzip is on through `gzipThreshold`.
 */
class InfluxdbSink implements ExportSink {
  readonly type = TYPE;
  private readonly influx: InfluxDB;

  constructor(private readonly config: InfluxdbConfig) {
    this.influx = new InfluxDB({ url: config.url, token: config.token, timeout: config.timeoutMs });
  }

  async write(tenant: string, windows: readonly AggregateWindow[]): Promise<void> {
    const { org, bucket } = destination(this.config, tenant);
    const api: WriteApi = this.influx.getWriteApi(org, bucket, 'ms', {
      batchSize: this.config.batchSize + 1,
      flushInterval: 0,
      maxRetries: 0,
      maxBufferLines: this.config.batchSize + 1,
      // Never an early flush by size (its error would be swallowed): `batchSize` alone cuts requests.
      maxBatchBytes: Number.MAX_SAFE_INTEGER,
      gzipThreshold: this.config.gzipThreshold,
    });
    try {
      for (let i = 0; i < windows.length; i += this.config.batchSize) {
        api.writePoints(windows.slice(i, i + this.config.batchSize).map(toPoint));
        await api.flush();
      }
    } catch (err) {
      throw classify(err);
    } finally {
      api.dispose();
    }
  }
}

// The client logs every failed write to the console; the runner counts and logs outages itself.
setLogger({ error: () => undefined, warn: () => undefined });

function numberFrom(raw: string | undefined): number | undefined {
  return raw === undefined || raw === '' ? undefined : Number(raw);
}

export const influxdbSinkType: SinkType<InfluxdbConfig> = {
  type: TYPE,
  defaultConfig: () => ({ url: '', tenancy: 'bucket', prefix: 'headroom-', org: 'headroom', bucket: 'headroom', timeoutMs: 10_000, batchSize: 5_000, gzipThreshold: 1_000 }),
  fromEnv(env) {
    if (!env['EXPORT_INFLUXDB_URL']) return undefined;
    const config: Partial<InfluxdbConfig> = {
      url: env['EXPORT_INFLUXDB_URL'],
      token: env['EXPORT_INFLUXDB_TOKEN'] || undefined,
      tenancy: env['EXPORT_INFLUXDB_TENANCY'] as InfluxdbConfig['tenancy'] | undefined,
      prefix: env['EXPORT_INFLUXDB_PREFIX'],
      org: env['EXPORT_INFLUXDB_ORG'],
      bucket: env['EXPORT_INFLUXDB_BUCKET'],
      timeoutMs: numberFrom(env['EXPORT_INFLUXDB_TIMEOUT_MS']),
      batchSize: numberFrom(env['EXPORT_INFLUXDB_BATCH_SIZE']),
      gzipThreshold: numberFrom(env['EXPORT_INFLUXDB_GZIP_THRESHOLD']),
    };
    return Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined)) as Partial<InfluxdbConfig>;
  },
  validate(config) {
    const problems: ConfigProblem[] = [];
    try {
      const u = new URL(config.url);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') problems.push({ path: 'url', message: 'must be an http(s) URL' });
    } catch {
      problems.push({ path: 'url', message: 'must be an http(s) URL' });
    }
    if (config.tenancy !== 'bucket' && config.tenancy !== 'org') problems.push({ path: 'tenancy', message: 'must be bucket or org' });
    if (config.tenancy === 'bucket' && !config.org) problems.push({ path: 'org', message: 'is required with tenancy=bucket' });
    if (config.tenancy === 'org' && !config.bucket) problems.push({ path: 'bucket', message: 'is required with tenancy=org' });
    if (!Number.isInteger(config.timeoutMs) || config.timeoutMs <= 0) problems.push({ path: 'timeoutMs', message: 'must be a positive integer (ms)' });
    if (!Number.isInteger(config.batchSize) || config.batchSize <= 0) problems.push({ path: 'batchSize', message: 'must be a positive integer (lines per request)' });
    if (!Number.isInteger(config.gzipThreshold) || config.gzipThreshold < 0) problems.push({ path: 'gzipThreshold', message: 'must be an integer ≥ 0 (bytes)' });
    return problems;
  },
  create: (config) => new InfluxdbSink(config),
};
