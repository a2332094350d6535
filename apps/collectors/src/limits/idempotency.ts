import { createHash } from 'node:crypto';
import type Redis from 'ioredis';

/** The first answer to a batch, replayed for a retry carrying the same Idempotency-Key. */
export interface StoredAnswer {
  status: number;
  body: unknown;
}

export type Claim = { state: 'claimed' } | { state: 'in_flight' } | { state: 'done'; answer: StoredAnswer };

const PENDING = 'pending';

/** `Idempotency-Key`: 1–255 visible ASCII characters (as Stripe's and the IETF draft's keys). */
export const IDEMPOTENCY_KEY_RE = /^[\x21-\x7e]{1,255}$/;

/**
 * Client idempotency keys, per tenant, in Redis shared by every replica: the first request with a
 * key claims it (SET NX), a concurrent one gets `in_flight` (409), a later one the stored answer.
 * A claim that did not end in an answer (refused batch, publish failure) is released, so the
 * client's retry is processed; a claim left by a crashed replica expires after `pendingTtlMs`.
 */
export class IdempotencyStore {
  constructor(
    private readonly redis: Redis,
    private readonly ttlSeconds: number,
    private readonly pendingTtlMs = 60_000,
  ) {}

  async claim(tenant: string, key: string): Promise<Claim> {
    const k = this.redisKey(tenant, key);
    const set = await this.redis.set(k, PENDING, 'PX', this.pendingTtlMs, 'NX');
    if (set === 'OK') return { state: 'claimed' };
    const current = await this.redis.get(k);
    if (current === null) return this.claim(tenant, key); // expired in between
    if (current === PENDING) return { state: 'in_flight' };
    return { state: 'done', answer: JSON.parse(current) as StoredAnswer };
  }

  async complete(tenant: string, key: string, answer: StoredAnswer): Promise<void> {
    await this.redis.set(this.redisKey(tenant, key), JSON.stringify(answer), 'EX', this.ttlSeconds);
  }

  async release(tenant: string, key: string): Promise<void> {
    const k = this.redisKey(tenant, key);
    // Only our own pending claim: never delete a stored answer.
    await this.redis.eval(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`, 1, k, PENDING);
  }

  private redisKey(tenant: string, key: string): string {
    return `hr:{${tenant}}:idem:${createHash('sha256').update(key).digest('base64url')}`;
  }
}
