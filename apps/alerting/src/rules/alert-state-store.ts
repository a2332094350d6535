import type Redis from 'ioredis';
import type { TrackedAlert } from './alert-state';

/** 30 days, refreshed on every write: longer than any incident, short enough that dead series go away. */
export const ALERT_STATE_TTL_SECONDS = 2_592_000;

export const ALERT_STATE_STORE = Symbol('ALERT_STATE_STORE');

/**
 * Durable alert state per tenant + fingerprint, so a restarted (or replacement) process resumes the
 * episode it was in instead of forgetting it: a firing alert still resolves with its original startsAt.
 */
export interface AlertStateStore {
  load(tenant: string, fingerprint: string): Promise<TrackedAlert | undefined>;
  save(tenant: string, fingerprint: string, alert: TrackedAlert): Promise<void>;
  /** Deletes every alert of the tenant; returns how many were deleted. */
  eraseTenant(tenant: string): Promise<number>;
}

/** `hr:alert:<tenant>:<fingerprint>`, a hash of status, startsAt (firing only) and lastWindowStart. */
export class RedisAlertStateStore implements AlertStateStore {
  constructor(
    private readonly redis: Redis,
    private readonly ttlSeconds = ALERT_STATE_TTL_SECONDS,
  ) {}

  static key(tenant: string, fingerprint: string): string {
    return `hr:alert:${tenant}:${fingerprint}`;
  }

  async load(tenant: string, fingerprint: string): Promise<TrackedAlert | undefined> {
    return decodeAlert(await this.redis.hgetall(RedisAlertStateStore.key(tenant, fingerprint)));
  }

  async save(tenant: string, fingerprint: string, alert: TrackedAlert): Promise<void> {
    const key = RedisAlertStateStore.key(tenant, fingerprint);
    // One transaction: the hash is replaced whole (no startsAt left over from a resolved episode)
    // and its TTL refreshed.
    const results = await this.redis.multi().del(key).hset(key, encodeAlert(alert)).expire(key, this.ttlSeconds).exec();
    const failed = results?.find(([err]) => err);
    if (!results || failed) throw failed?.[0] ?? new Error(`alert state write for ${key} was discarded`);
  }

  async eraseTenant(tenant: string): Promise<number> {
    // Tenant ids are [a-z0-9-] (no ':' nor glob characters), so this matches this tenant only.
    const match = `hr:alert:${tenant}:*`;
    let cursor = '0';
    let deleted = 0;
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', match, 'COUNT', 500);
      if (keys.length) deleted += await this.redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
    return deleted;
  }
}

/** For unit specs and anything that needs the store semantics without Redis. */
export class InMemoryAlertStateStore implements AlertStateStore {
  readonly hashes = new Map<string, Record<string, string>>();

  async load(tenant: string, fingerprint: string): Promise<TrackedAlert | undefined> {
    return decodeAlert(this.hashes.get(RedisAlertStateStore.key(tenant, fingerprint)) ?? {});
  }

  async save(tenant: string, fingerprint: string, alert: TrackedAlert): Promise<void> {
    this.hashes.set(RedisAlertStateStore.key(tenant, fingerprint), encodeAlert(alert));
  }

  async eraseTenant(tenant: string): Promise<number> {
    const prefix = `hr:alert:${tenant}:`;
    let n = 0;
    for (const k of [...this.hashes.keys()]) if (k.startsWith(prefix) && this.hashes.delete(k)) n++;
    return n;
  }
}

export function encodeAlert(alert: TrackedAlert): Record<string, string> {
  const fields: Record<string, string> = { status: alert.status, lastWindowStart: String(alert.lastWindowStart) };
  if (alert.status === 'firing') fields['startsAt'] = String(alert.startsAt);
  return fields;
}

/** Undefined for a missing or unreadable hash: the alert then starts over as unknown (as before persistence). */
export function decodeAlert(fields: Record<string, string>): TrackedAlert | undefined {
  const lastWindowStart = Number(fields['lastWindowStart']);
  if (!Number.isSafeInteger(lastWindowStart)) return undefined;
  if (fields['status'] === 'inactive') return { status: 'inactive', lastWindowStart };
  if (fields['status'] === 'firing') {
    const startsAt = Number(fields['startsAt']);
    if (!Number.isSafeInteger(startsAt)) return undefined;
    return { status: 'firing', lastWindowStart, startsAt };
  }
  return undefined;
}
