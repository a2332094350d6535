/**
 * The three small mechanisms that keep one tenant's broken receiver from costing anyone else:
 * exponential backoff (never sooner than the provider's Retry-After), a circuit breaker per
 * tenant + receiver, and token buckets for per-tenant and per-receiver notification rates.
 * Hand-written: each is a dozen lines, and the libraries that exist (opossum, bottleneck) wrap calls
 * in-process, while here the state must follow rows of a durable queue picked by any replica.
 */

export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

/**
 * Delay before attempt `attempts + 1`: base · 2^(attempts-1), capped, with "equal jitter" (half fixed,
 * half random) so many receivers failing together do not retry in lockstep; never less than
 * `retryAfterMs` when the provider named one.
 */
export function backoffDelay(attempts: number, policy: BackoffPolicy, retryAfterMs?: number, random = Math.random): number {
  const exp = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempts - 1));
  const jittered = exp / 2 + random() * (exp / 2);
  return Math.max(Math.round(jittered), retryAfterMs ?? 0);
}

export interface BreakerPolicy {
  /** Consecutive failures that open the circuit. */
  failureThreshold: number;
  /** How long it stays open before one trial send (half-open). */
  openMs: number;
}

type BreakerState = { failures: number; openUntil: number };

/**
 * Per key (tenant + receiver): closed → open after `failureThreshold` consecutive failures → after
 * `openMs`, half-open: one send goes through; success closes it, failure reopens it. While open, the
 * sender does not pick the receiver's queue at all, so a dead endpoint costs nothing per attempt.
 */
export class CircuitBreakers {
  private readonly states = new Map<string, BreakerState>();
  constructor(private readonly policy: BreakerPolicy) {}

  /** Whether a send may be attempted now (closed, or half-open and due for its trial). */
  allows(key: string, now: number): boolean {
    const s = this.states.get(key);
    return !s || s.openUntil <= now;
  }

  /** Keys whose circuit is open now. */
  openKeys(now: number): string[] {
    const out: string[] = [];
    for (const [k, s] of this.states) if (s.openUntil > now) out.push(k);
    return out;
  }

  success(key: string): void {
    this.states.delete(key);
  }

  /** Returns true when this failure opened (or reopened) the circuit. */
  failure(key: string, now: number): boolean {
    const s = this.states.get(key) ?? { failures: 0, openUntil: 0 };
    s.failures++;
    const opens = s.failures >= this.policy.failureThreshold;
    if (opens) s.openUntil = now + this.policy.openMs;
    this.states.set(key, s);
    return opens;
  }

  isOpen(key: string, now: number): boolean {
    const s = this.states.get(key);
    return !!s && s.openUntil > now;
  }
}

export interface RateLimit {
  /** Sustained notifications per minute. */
  perMinute: number;
  /** Burst allowed above the sustained rate. */
  burst: number;
}

/** Token buckets by key. `take` answers 0 when a token was taken, else how long until one is free (ms). */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(private readonly limit: RateLimit) {}

  take(key: string, now: number): number {
    const ratePerMs = this.limit.perMinute / 60_000;
    const b = this.buckets.get(key) ?? { tokens: this.limit.burst, at: now };
    b.tokens = Math.min(this.limit.burst, b.tokens + (now - b.at) * ratePerMs);
    b.at = now;
    this.buckets.set(key, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - b.tokens) / ratePerMs);
  }

  /** Gives a token back (the send did not happen after all). */
  refund(key: string): void {
    const b = this.buckets.get(key);
    if (b) b.tokens = Math.min(this.limit.burst, b.tokens + 1);
  }
}
