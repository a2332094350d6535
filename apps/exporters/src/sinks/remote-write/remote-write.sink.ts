import type { AggregateWindow } from '@headroom/contracts';
import { classifyStatus, networkFailure } from '../http-outcome';
import type { ConfigProblem, ExportSink, SinkType } from '../sink';
import { chunkBySamples, encodeWriteRequest, toTimeSeries } from './remote-write.encoding';

export interface RemoteWriteConfig {
  /** The receiver's write URL: Prometheus `/api/v1/write`, VictoriaMetrics `/api/v1/write`, Mimir `/api/v1/push`. */
  url: string;
  /**
   * `label`: every series gets `tenantLabel="<tenant>"` (one shared store; dashboards filter on it).
   * `org-id`: Mimir/Cortex's convention — one request per tenant with `X-Scope-OrgID: <tenant>` and
   * no tenant label, so the receiver keeps each tenant in its own store.
   */
  mode: 'label' | 'org-id';
  tenantLabel: string;
  timeoutMs: number;
  /** Samples per request; a record's windows are sent in as many requests as this needs. */
  maxSamplesPerRequest: number;
  /** Sent as `Authorization: Bearer …` (a secret). */
  bearerToken?: string;
  /** Extra request headers, e.g. basic auth or a gateway's key (secret as a whole). */
  headers: Record<string, string>;
}

const TYPE = 'remote_write';
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

class RemoteWriteSink implements ExportSink {
  readonly type = TYPE;
  private readonly headers: Record<string, string>;

  constructor(private readonly config: RemoteWriteConfig) {
    this.headers = {
      ...config.headers,
      'content-type': 'application/x-protobuf',
      'content-encoding': 'snappy',
      'x-prometheus-remote-write-version': '0.1.0',
      'user-agent': 'headroom-exporters',
      ...(config.bearerToken ? { authorization: `Bearer ${config.bearerToken}` } : {}),
    };
  }

  async write(tenant: string, windows: readonly AggregateWindow[]): Promise<void> {
    const headers = this.config.mode === 'org-id' ? { ...this.headers, 'x-scope-orgid': tenant } : this.headers;
    const series = toTimeSeries(tenant, windows, this.config);
    // In order: a failure part-way leaves the first chunks written; the retry sends them again, and
    // receivers accept an identical sample at the same timestamp (Prometheus ignores it, VictoriaMetrics deduplicates on query).
    for (const chunk of chunkBySamples(series, this.config.maxSamplesPerRequest)) {
      const body = await encodeWriteRequest(chunk);
      let res: Response;
      try {
        res = await fetch(this.config.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(this.config.timeoutMs) });
      } catch (err) {
        throw networkFailure(TYPE, err);
      }
      // Read even on success: an unread body keeps the pooled connection busy.
      const text = await res.text().catch(() => '');
      const failure = classifyStatus(TYPE, res.status, text, res.headers.get('retry-after'));
      if (failure) throw failure;
    }
  }
}

function numberFrom(raw: string | undefined): number | undefined {
  return raw === undefined || raw === '' ? undefined : Number(raw);
}

export const remoteWriteSinkType: SinkType<RemoteWriteConfig> = {
  type: TYPE,
  defaultConfig: () => ({ url: '', mode: 'label', tenantLabel: 'tenant', timeoutMs: 10_000, maxSamplesPerRequest: 10_000, headers: {} }),
  fromEnv(env) {
    if (!env['EXPORT_REMOTE_WRITE_URL']) return undefined;
    const rawHeaders = env['EXPORT_REMOTE_WRITE_HEADERS'];
    let headers: Record<string, string> | undefined;
    if (rawHeaders) {
      const parsed: unknown = JSON.parse(rawHeaders);
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('EXPORT_REMOTE_WRITE_HEADERS must be a JSON object of header names to values');
      headers = parsed as Record<string, string>;
    }
    const config: Partial<RemoteWriteConfig> = {
      url: env['EXPORT_REMOTE_WRITE_URL'],
      mode: env['EXPORT_REMOTE_WRITE_MODE'] as RemoteWriteConfig['mode'] | undefined,
      tenantLabel: env['EXPORT_REMOTE_WRITE_TENANT_LABEL'],
      timeoutMs: numberFrom(env['EXPORT_REMOTE_WRITE_TIMEOUT_MS']),
      maxSamplesPerRequest: numberFrom(env['EXPORT_REMOTE_WRITE_MAX_SAMPLES_PER_REQUEST']),
      bearerToken: env['EXPORT_REMOTE_WRITE_BEARER_TOKEN'] || undefined,
      headers,
    };
    return Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined)) as Partial<RemoteWriteConfig>;
  },
  validate(config) {
    const problems: ConfigProblem[] = [];
    try {
      const u = new URL(config.url);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') problems.push({ path: 'url', message: 'must be an http(s) URL' });
    } catch {
      problems.push({ path: 'url', message: 'must be an http(s) URL' });
    }
    if (config.mode !== 'label' && config.mode !== 'org-id') problems.push({ path: 'mode', message: 'must be label or org-id' });
    if (!LABEL_NAME.test(config.tenantLabel) || config.tenantLabel.startsWith('__')) problems.push({ path: 'tenantLabel', message: 'must be a Prometheus label name (not starting with __)' });
    if (!Number.isInteger(config.timeoutMs) || config.timeoutMs <= 0) problems.push({ path: 'timeoutMs', message: 'must be a positive integer (ms)' });
    if (!Number.isInteger(config.maxSamplesPerRequest) || config.maxSamplesPerRequest < 7) problems.push({ path: 'maxSamplesPerRequest', message: 'must be an integer ≥ 7 (one window is 7 samples)' });
    for (const [name, value] of Object.entries(config.headers)) {
      if (!HEADER_NAME.test(name)) problems.push({ path: `headers.${name}`, message: 'is not a valid HTTP header name' });
      if (typeof value !== 'string') problems.push({ path: `headers.${name}`, message: 'must be a string' });
    }
    return problems;
  },
  create: (config) => new RemoteWriteSink(config),
};
