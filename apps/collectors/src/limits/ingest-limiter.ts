import type { TenantLimits } from '@headroom/contracts';

type IngestLimits = Pick<TenantLimits, 'ratePerSecond' | 'burst'>;

interface Bucket {
  tokens: number;
  updatedAt: number;
  limits: IngestLimits;
}

export type LimitDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number; limits: IngestLimits };

/**
 * Per-tenant token buckets (as Mimir's ingestion rate limit): each point or event costs one token,
 * tokens refill at `ratePerSecond` up to `burst`. A batch larger than what is available is refused
 * whole, so nothing is half-accepted. Limits are per collectors replica.
 */
export class IngestLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly defaults: IngestLimits,
    private readonly now: () => number = Date.now,
  ) {}

  take(tenant: string, cost: number, limits: Partial<IngestLimits> | undefined): LimitDecision {
    const l = { ratePerSecond: limits?.ratePerSecond ?? this.defaults.ratePerSecond, burst: limits?.burst ?? this.defaults.burst };
    const t = this.now();
    let b = this.buckets.get(tenant);
    if (!b || b.limits.ratePerSecond !== l.ratePerSecond || b.limits.burst !== l.burst) {
      b = { tokens: b ? Math.min(b.tokens, l.burst) : l.burst, updatedAt: t, limits: l };
      this.buckets.set(tenant, b);
    }
    b.tokens = Math.min(l.burst, b.tokens + ((t - b.updatedAt) / 1000) * l.ratePerSecond);
    b.updatedAt = t;
    if (cost > l.burst) return { allowed: false, retryAfterSeconds: 0, limits: l };
    if (cost <= b.tokens) {
      b.tokens -= cost;
      return { allowed: true };
    }
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((cost - b.tokens) / l.ratePerSecond)), limits: l };
  }
}
