import type Redis from 'ioredis';
import type { TenantLimits } from '@headroom/contracts';

/**
 * One atomic step per batch, shared by every collectors replica through Redis: the tenant's token
 * bucket (Mimir's ingestion_rate + ingestion_burst_size) and its active series (a sorted set of
 * series id → last point, Mimir's max_global_series_per_user). Both are checked before either is
 * changed, so a refused batch neither spends tokens nor makes a series active. Time is Redis's
 * own clock, so replicas with skewed clocks share one bucket. Keys share the `{tenant}` hash tag
 * (one Redis Cluster slot per tenant).
 */
const ADMIT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local maxSeries = tonumber(ARGV[4])
local idle = tonumber(ARGV[5])
if cost > burst then return {0, 'burst', 0, 0, 0} end
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1])
local ts = tonumber(b[2])
if tokens == nil or ts == nil then tokens = burst; ts = now end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate / 1000)
if tokens < cost then
  return {0, 'rate', math.ceil((cost - tokens) * 1000 / rate), 0, 0}
end
local active = -1
local new = 0
if #ARGV > 5 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - idle)
  active = redis.call('ZCARD', KEYS[2])
  for i = 6, #ARGV do
    if not redis.call('ZSCORE', KEYS[2], ARGV[i]) then new = new + 1 end
  end
  if active + new > maxSeries then return {0, 'series', 0, active, new} end
  for i = 6, #ARGV, 500 do
    local args = {}
    for j = i, math.min(i + 499, #ARGV) do
      args[#args + 1] = now
      args[#args + 1] = ARGV[j]
    end
    redis.call('ZADD', KEYS[2], unpack(args))
  end
  redis.call('PEXPIRE', KEYS[2], idle * 2)
  active = active + new
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens - cost), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 60000)
return {1, 'ok', 0, active, new}
`;

export type Admission =
  | { admitted: true; newSeries: number }
  | { admitted: false; limit: 'burst' }
  | { admitted: false; limit: 'rate'; retryAfterMs: number }
  | { admitted: false; limit: 'series'; active: number; newSeries: number };

type AdmissionLimits = Pick<TenantLimits, 'ratePerSecond' | 'burst' | 'maxActiveSeries'>;

interface RedisWithAdmit extends Redis {
  hrAdmit(bucketKey: string, seriesKey: string, ...args: (string | number)[]): Promise<[number, string, number, number, number]>;
}

export class TenantAdmission {
  private readonly redis: RedisWithAdmit;

  constructor(
    redis: Redis,
    readonly idleMs: number,
  ) {
    redis.defineCommand('hrAdmit', { numberOfKeys: 2, lua: ADMIT });
    this.redis = redis as RedisWithAdmit;
  }

  /**
   * Takes `cost` tokens and marks `seriesIds` active (refreshing those already active), or changes
   * nothing. `seriesIds` need only name series this replica has not confirmed recently (see
   * ActiveSeriesCache); an empty list checks the rate only. Throws when Redis cannot answer.
   */
  async admit(tenant: string, cost: number, seriesIds: readonly string[], limits: AdmissionLimits): Promise<Admission> {
    const [ok, what, retryAfterMs, active, newSeries] = await this.redis.hrAdmit(
      `hr:{${tenant}}:ingest:bucket`,
      `hr:{${tenant}}:ingest:series`,
      limits.ratePerSecond,
      limits.burst,
      cost,
      limits.maxActiveSeries,
      this.idleMs,
      ...seriesIds,
    );
    if (ok === 1) return { admitted: true, newSeries };
    if (what === 'burst') return { admitted: false, limit: 'burst' };
    if (what === 'rate') return { admitted: false, limit: 'rate', retryAfterMs };
    return { admitted: false, limit: 'series', active, newSeries };
  }

  /** Active series of a tenant across replicas (for tests and /metrics-style reads). */
  async activeSeries(tenant: string): Promise<number> {
    const key = `hr:{${tenant}}:ingest:series`;
    const now = Date.now();
    await this.redis.zremrangebyscore(key, '-inf', now - this.idleMs);
    return this.redis.zcard(key);
  }
}

/**
 * What this replica knows is active in Redis, so a known series does not cost Redis work per
 * point: a series confirmed less than `refreshMs` ago is not sent again. `refreshMs` is well under
 * the idle timeout, so a series still receiving points is refreshed in Redis long before it would
 * expire there. Entries older than `refreshMs` are swept, which bounds memory by the series a
 * tenant sent recently.
 */
export class ActiveSeriesCache {
  private readonly byTenant = new Map<string, Map<string, number>>();
  private lastSweep: number;

  constructor(
    private readonly refreshMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.lastSweep = now();
  }

  /** The series of `keys` (seriesKey strings, deduplicated) that must be confirmed with Redis. */
  unconfirmed(tenant: string, keys: Iterable<string>): string[] {
    const t = this.now();
    this.sweep(t);
    const known = this.byTenant.get(tenant);
    const out: string[] = [];
    for (const k of keys) {
      const at = known?.get(k);
      if (at === undefined || t - at >= this.refreshMs) out.push(k);
    }
    return out;
  }

  confirm(tenant: string, keys: readonly string[]): void {
    if (!keys.length) return;
    const t = this.now();
    let known = this.byTenant.get(tenant);
    if (!known) this.byTenant.set(tenant, (known = new Map()));
    for (const k of keys) known.set(k, t);
  }

  /** Forget a tenant (its limit was lowered or it was erased): its series are checked again. */
  forget(tenant: string): void {
    this.byTenant.delete(tenant);
  }

  size(): number {
    let n = 0;
    for (const m of this.byTenant.values()) n += m.size;
    return n;
  }

  private sweep(t: number): void {
    if (t - this.lastSweep < this.refreshMs) return;
    this.lastSweep = t;
    for (const [tenant, known] of this.byTenant) {
      for (const [k, at] of known) if (t - at >= this.refreshMs) known.delete(k);
      if (known.size === 0) this.byTenant.delete(tenant);
    }
  }
}
