import type Redis from 'ioredis';

/** The three operations a lease needs; Redis in production (RedisLeaseStore), in memory in unit specs. */
export interface LeaseStore {
  /** SET key token NX PX ttl: true when taken. */
  acquire(key: string, token: string, ttlMs: number): Promise<boolean>;
  /** Extends the lease only while `token` holds it. */
  renew(key: string, token: string, ttlMs: number): Promise<boolean>;
  /** Deletes the lease only while `token` holds it (never another replica's). */
  release(key: string, token: string): Promise<boolean>;
}

const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

export class RedisLeaseStore implements LeaseStore {
  constructor(private readonly redis: Redis) {}

  async acquire(key: string, token: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(key, token, 'PX', ttlMs, 'NX')) === 'OK';
  }

  async renew(key: string, token: string, ttlMs: number): Promise<boolean> {
    return Number(await this.redis.eval(RENEW, 1, key, token, String(ttlMs))) === 1;
  }

  async release(key: string, token: string): Promise<boolean> {
    return Number(await this.redis.eval(RELEASE, 1, key, token)) === 1;
  }
}

/** `hr:scraper:lease:<tenant>:<scraper>` (+ `:<instance>` for a scraper every replica runs for itself). */
export function leaseKey(tenant: string, scraper: string, instance?: string): string {
  return `hr:scraper:lease:${tenant}:${scraper}${instance ? `:${instance}` : ''}`;
}

/**
 * One replica's leases: at each cycle a scraper runs on this replica only if `claim()` says so —
 * the holder renews (compare-and-PEXPIRE), the others try SET NX and fail while the holder lives.
 * A holder that stops renewing (crashed, partitioned from Redis, blocked past the TTL) loses the
 * lease when it expires and another replica takes it at its next cycle; a replica shutting down
 * releases its leases (compare-and-DEL) so another takes over at the next cycle.
 */
export class ScrapeLeases {
  private readonly held = new Set<string>();

  constructor(
    private readonly store: LeaseStore,
    /** Unique per replica and process start. */
    readonly token: string,
    private readonly ttlMs: number,
  ) {}

  /** Whether this replica holds `key` for the next `ttlMs` (renewed, or newly acquired). Throws when the store cannot answer. */
  async claim(key: string): Promise<boolean> {
    if (this.held.has(key)) {
      if (await this.store.renew(key, this.token, this.ttlMs)) return true;
      this.held.delete(key); // expired meanwhile: taken by another replica, or free again
    }
    if (await this.store.acquire(key, this.token, this.ttlMs)) {
      this.held.add(key);
      return true;
    }
    return false;
  }

  holds(key: string): boolean {
    return this.held.has(key);
  }

  /** Gives up every lease this replica holds (at shutdown). */
  async releaseAll(): Promise<void> {
    const keys = [...this.held];
    this.held.clear();
    await Promise.all(keys.map((k) => this.store.release(k, this.token).catch(() => false)));
  }
}
