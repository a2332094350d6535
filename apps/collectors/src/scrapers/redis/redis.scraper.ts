import Redis from 'ioredis';
import type { MetricPoint } from '@headroom/contracts';
import { checkInt, checkUnknownKeys, checkUrl, endpointOf, isObject } from '../checks';
import type { ConfigIssue, ScrapeContext, Scraper, ScraperFactory } from '../scraper';

export interface RedisScraperConfig {
  /** `redis://[user:password@]host:port` (or `rediss://`); credentials never appear in labels or logs. */
  url: string;
  /** Connect and INFO timeout. */
  timeoutMs: number;
}

export const DEFAULT_REDIS_SCRAPER_CONFIG: RedisScraperConfig = { url: 'redis://127.0.0.1:6379', timeoutMs: 5_000 };

/** INFO's `key:value` lines (sections ignored). */
export function parseInfo(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    if (!line || line.startsWith('#')) continue;
    const i = line.indexOf(':');
    if (i > 0) out.set(line.slice(0, i), line.slice(i + 1));
  }
  return out;
}

/** INFO field → metric, for the plain numeric fields (Prometheus redis_exporter's names). */
const FIELDS: [field: string, metric: string, unit?: string][] = [
  ['used_memory', 'redis_memory_used_bytes', 'By'],
  ['used_memory_rss', 'redis_memory_rss_bytes', 'By'],
  ['maxmemory', 'redis_memory_max_bytes', 'By'],
  ['connected_clients', 'redis_connected_clients'],
  ['blocked_clients', 'redis_blocked_clients'],
  ['instantaneous_ops_per_sec', 'redis_instantaneous_ops_per_second'],
  ['total_commands_processed', 'redis_commands_processed_total'],
  ['keyspace_hits', 'redis_keyspace_hits_total'],
  ['keyspace_misses', 'redis_keyspace_misses_total'],
  ['evicted_keys', 'redis_evicted_keys_total'],
  ['expired_keys', 'redis_expired_keys_total'],
  ['rejected_connections', 'redis_rejected_connections_total'],
  ['connected_slaves', 'redis_connected_replicas'],
  ['uptime_in_seconds', 'redis_uptime_seconds', 's'],
];

/**
 * A Redis server, from `INFO`: memory, keyspace hit ratio, ops/s, clients, evictions, keys per db.
 * One connection, kept between scrapes. Points carry `instance=<host:port>`.
 */
export const redisScraper: ScraperFactory<RedisScraperConfig> = {
  type: 'redis',
  defaultConfig: DEFAULT_REDIS_SCRAPER_CONFIG,

  validate(config: unknown): ConfigIssue[] {
    if (!isObject(config)) return [{ path: '', message: 'must be an object' }];
    const issues: ConfigIssue[] = [];
    checkUnknownKeys(config, Object.keys(DEFAULT_REDIS_SCRAPER_CONFIG), '', issues);
    checkUrl(config, 'url', ['redis:', 'rediss:'], '', issues);
    checkInt(config, 'timeoutMs', 100, 60_000, '', issues);
    return issues;
  },

  create(config: RedisScraperConfig): Scraper {
    const instance = endpointOf(config.url, 6379);
    const redis = new Redis(config.url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: config.timeoutMs,
      commandTimeout: config.timeoutMs,
      // Reconnect on the next scrape rather than in the background.
      retryStrategy: () => null,
    });
    let lastError: Error | undefined;
    redis.on('error', (err: Error) => (lastError = err)); // surfaced by collect()
    return {
      async collect({ timestamp }: ScrapeContext): Promise<MetricPoint[]> {
        if (redis.status !== 'ready') {
          if (redis.status !== 'connecting' && redis.status !== 'connect') redis.disconnect();
          try {
            await redis.connect();
          } catch (err) {
            // ioredis answers "Connection is closed."; the socket's error says why.
            throw new Error(`redis ${instance}: ${(lastError ?? (err as Error)).message}`);
          }
        }
        const info = parseInfo(await redis.info('all'));
        const points: MetricPoint[] = [];
        const add = (name: string, value: number, labels: Record<string, string> = {}, unit?: string) => {
          if (Number.isFinite(value)) points.push({ name, labels: { instance, ...labels }, value, timestamp, ...(unit ? { unit } : {}) });
        };
        for (const [field, metric, unit] of FIELDS) {
          const v = info.get(field);
          if (v !== undefined && v !== '') add(metric, Number(v), {}, unit);
        }
        const hits = Number(info.get('keyspace_hits') ?? NaN);
        const misses = Number(info.get('keyspace_misses') ?? NaN);
        if (hits + misses > 0) add('redis_keyspace_hit_ratio', hits / (hits + misses));
        for (const [k, v] of info) {
          // db0:keys=12,expires=3,avg_ttl=0
          if (!/^db\d+$/.test(k)) continue;
          const fields = Object.fromEntries(v.split(',').map((kv) => kv.split('=') as [string, string]));
          add('redis_db_keys', Number(fields['keys']), { db: k });
          add('redis_db_keys_expiring', Number(fields['expires']), { db: k });
        }
        return points;
      },
      async close() {
        await redis.quit().catch(() => redis.disconnect());
      },
    };
  },
};
