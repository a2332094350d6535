import type { ConfigProblem } from '../sink';

export interface ElasticsearchSinkConfig {
  /** One node's base URL, http(s)://host:port[/path]; credentials never go in it. */
  url: string;
  /** Basic auth (secret: the password), or `apiKey` (secret), or neither. */
  username?: string;
  password?: string;
  /** The base64 `id:api_key` that Elasticsearch's create-API-key answers as `encoded`. */
  apiKey?: string;
  /** Indices are `<prefix>-<tenant>-<yyyy.MM.dd>`; the template and policy are named after it. */
  indexPrefix: string;
  /** Daily indices older than this are deleted (lifecycle policy where the cluster runs one, and the sink's own sweep). */
  retentionDays: number;
  /** Per request, bulk included. */
  timeoutMs: number;
  /** In-call retries of the items a bulk answered 429/5xx for, before the runner's whole-batch retry. */
  itemRetries: number;
  itemRetryBaseMs: number;
  /** number_of_replicas in the template; undefined: the cluster's default (1). */
  replicas?: number;
  /** Upper bound of one bulk request's body; a larger batch is split. */
  maxBulkBytes: number;
}

export function defaultElasticsearchConfig(): ElasticsearchSinkConfig {
  return {
    url: '',
    indexPrefix: 'headroom-aggregates',
    retentionDays: 30,
    timeoutMs: 10_000,
    itemRetries: 3,
    itemRetryBaseMs: 100,
    maxBulkBytes: 5 * 1024 * 1024,
  };
}

const ENV = 'EXPORT_ELASTICSEARCH_';

/** Numbers stay NaN when unreadable, so validate() names the variable instead of a default hiding it. */
function num(value: string | undefined): number | undefined {
  return value === undefined || value.trim() === '' ? undefined : Number(value);
}

/** Enabled by EXPORT_ELASTICSEARCH_URL; the other variables are optional. */
export function elasticsearchConfigFromEnv(env: Record<string, string | undefined>): Partial<ElasticsearchSinkConfig> | undefined {
  const url = env[`${ENV}URL`];
  if (url === undefined || url.trim() === '') return undefined;
  const config: Partial<ElasticsearchSinkConfig> = { url: url.trim() };
  const set = <K extends keyof ElasticsearchSinkConfig>(key: K, value: ElasticsearchSinkConfig[K] | undefined): void => {
    if (value !== undefined) config[key] = value;
  };
  set('username', env[`${ENV}USERNAME`] || undefined);
  set('password', env[`${ENV}PASSWORD`] || undefined);
  set('apiKey', env[`${ENV}API_KEY`] || undefined);
  set('indexPrefix', env[`${ENV}INDEX_PREFIX`] || undefined);
  set('retentionDays', num(env[`${ENV}RETENTION_DAYS`]));
  set('timeoutMs', num(env[`${ENV}TIMEOUT_MS`]));
  set('itemRetries', num(env[`${ENV}ITEM_RETRIES`]));
  set('replicas', num(env[`${ENV}REPLICAS`]));
  set('maxBulkBytes', num(env[`${ENV}MAX_BULK_BYTES`]));
  return config;
}

// Index names must be lowercase, without \ / * ? " < > | , # : or spaces, and not start with - _ +;
// the prefix is also matched by `<prefix>-*` patterns, so it is kept to a plain word.
const PREFIX = /^[a-z0-9][a-z0-9._-]{0,99}$/;

function integer(problems: ConfigProblem[], path: string, value: number | undefined, min: number, max: number): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < min || value > max) problems.push({ path, message: `must be an integer from ${min} to ${max}` });
}

export function validateElasticsearchConfig(config: ElasticsearchSinkConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  let url: URL | undefined;
  try {
    url = new URL(config.url);
  } catch {
    problems.push({ path: 'url', message: 'must be an absolute http(s) URL (EXPORT_ELASTICSEARCH_URL)' });
  }
  if (url && url.protocol !== 'http:' && url.protocol !== 'https:') problems.push({ path: 'url', message: 'must use http or https' });
  if (url && (url.username || url.password)) {
    problems.push({ path: 'url', message: 'must not carry credentials (they would reach logs): use EXPORT_ELASTICSEARCH_USERNAME/PASSWORD or API_KEY' });
  }
  if (config.username !== undefined && config.password === undefined) problems.push({ path: 'password', message: 'is required with a username' });
  if (config.password !== undefined && config.username === undefined) problems.push({ path: 'username', message: 'is required with a password' });
  if (config.apiKey !== undefined && (config.username !== undefined || config.password !== undefined)) {
    problems.push({ path: 'apiKey', message: 'use either an API key or a username and password, not both' });
  }
  if (!PREFIX.test(config.indexPrefix)) {
    problems.push({ path: 'indexPrefix', message: 'must be 1-100 chars of a-z, 0-9, ., _ and -, starting with a letter or digit' });
  }
  integer(problems, 'retentionDays', config.retentionDays, 1, 36_500);
  integer(problems, 'timeoutMs', config.timeoutMs, 100, 120_000);
  integer(problems, 'itemRetries', config.itemRetries, 0, 10);
  integer(problems, 'itemRetryBaseMs', config.itemRetryBaseMs, 0, 10_000);
  integer(problems, 'replicas', config.replicas, 0, 10);
  integer(problems, 'maxBulkBytes', config.maxBulkBytes, 64 * 1024, 100 * 1024 * 1024);
  return problems;
}
