import type Redis from 'ioredis';

export const ANOMALY_PAGE_STORE = Symbol('ANOMALY_PAGE_STORE');

/** 30 days, like the alert state: longer than the topic's retention, so a replay never finds it gone. */
export const ANOMALY_PAGE_TTL_SECONDS = 30 * 86_400;

/** When each series of a tenant last paged for an anomaly (signal time, ms): the burst window's memory. */
export interface AnomalyPageStore {
  lastPaged(tenant: string, fingerprint: string): Promise<number | undefined>;
  recordPage(tenant: string, fingerprint: string, timestamp: number): Promise<void>;
}

/**
 * `hr:alert:<tenant>:anomaly-<fingerprint>` = signal timestamp. Under the tenant's `hr:alert:` prefix
 * on purpose: the erasure SCAN of the alert state (`hr:alert:<tenant>:*`) deletes it too.
 */
export class RedisAnomalyPageStore implements AnomalyPageStore {
  constructor(private readonly redis: Redis) {}

  static key(tenant: string, fingerprint: string): string {
    return `hr:alert:${tenant}:anomaly-${fingerprint}`;
  }

  async lastPaged(tenant: string, fingerprint: string): Promise<number | undefined> {
    const raw = await this.redis.get(RedisAnomalyPageStore.key(tenant, fingerprint));
    const ts = raw === null ? NaN : Number(raw);
    // Unreadable = unknown: the next anomaly pages, which is the safe side.
    return Number.isFinite(ts) ? ts : undefined;
  }

  async recordPage(tenant: string, fingerprint: string, timestamp: number): Promise<void> {
    await this.redis.set(RedisAnomalyPageStore.key(tenant, fingerprint), String(timestamp), 'EX', ANOMALY_PAGE_TTL_SECONDS);
  }
}

/** For unit specs. */
export class InMemoryAnomalyPageStore implements AnomalyPageStore {
  readonly pages = new Map<string, number>();

  async lastPaged(tenant: string, fingerprint: string): Promise<number | undefined> {
    return this.pages.get(RedisAnomalyPageStore.key(tenant, fingerprint));
  }

  async recordPage(tenant: string, fingerprint: string, timestamp: number): Promise<void> {
    this.pages.set(RedisAnomalyPageStore.key(tenant, fingerprint), timestamp);
  }
}
