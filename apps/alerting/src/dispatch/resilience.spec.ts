import { backoffDelay, CircuitBreakers, TokenBuckets } from './resilience';

describe('backoffDelay', () => {
  const policy = { baseMs: 1_000, maxMs: 60_000 };
  it('doubles per attempt within equal jitter, capped', () => {
    expect(backoffDelay(1, policy, undefined, () => 0)).toBe(500);
    expect(backoffDelay(1, policy, undefined, () => 1)).toBe(1_000);
    expect(backoffDelay(4, policy, undefined, () => 1)).toBe(8_000);
    expect(backoffDelay(20, policy, undefined, () => 1)).toBe(60_000);
    expect(backoffDelay(20, policy, undefined, () => 0)).toBe(30_000);
  });
  it('never retries sooner than the provider asked', () => {
    expect(backoffDelay(1, policy, 7_000, () => 0)).toBe(7_000);
    expect(backoffDelay(10, policy, 7_000, () => 1)).toBe(60_000);
  });
});

describe('CircuitBreakers', () => {
  it('opens after the threshold of consecutive failures, half-opens after openMs, closes on success', () => {
    const b = new CircuitBreakers({ failureThreshold: 3, openMs: 10_000 });
    expect(b.failure('t/a', 0)).toBe(false);
    expect(b.failure('t/a', 0)).toBe(false);
    expect(b.allows('t/a', 0)).toBe(true);
    expect(b.failure('t/a', 0)).toBe(true);
    expect(b.allows('t/a', 5_000)).toBe(false);
    expect(b.openKeys(5_000)).toEqual(['t/a']);
    // Another queue is unaffected.
    expect(b.allows('t/b', 5_000)).toBe(true);
    expect(b.allows('t/a', 10_000)).toBe(true);
    // The half-open trial fails: open again at once.
    expect(b.failure('t/a', 10_000)).toBe(true);
    expect(b.allows('t/a', 15_000)).toBe(false);
    b.success('t/a');
    expect(b.allows('t/a', 15_000)).toBe(true);
    expect(b.openKeys(15_000)).toEqual([]);
  });
  it('a success in between resets the count', () => {
    const b = new CircuitBreakers({ failureThreshold: 2, openMs: 10_000 });
    b.failure('k', 0);
    b.success('k');
    expect(b.failure('k', 0)).toBe(false);
  });
});

describe('TokenBuckets', () => {
  it('allows the burst, then one per period, and says how long to wait', () => {
    const buckets = new TokenBuckets({ perMinute: 60, burst: 3 });
    expect([0, 0, 0].map(() => buckets.take('t', 0))).toEqual([0, 0, 0]);
    expect(buckets.take('t', 0)).toBe(1_000);
    expect(buckets.take('t', 500)).toBe(500);
    expect(buckets.take('t', 1_000)).toBe(0);
    // Keys are independent: one noisy tenant does not use another's tokens.
    expect(buckets.take('other', 1_000)).toBe(0);
  });
  it('gives a token back on refund, never above the burst', () => {
    const buckets = new TokenBuckets({ perMinute: 60, burst: 1 });
    expect(buckets.take('t', 0)).toBe(0);
    buckets.refund('t');
    expect(buckets.take('t', 0)).toBe(0);
    buckets.refund('t');
    buckets.refund('t');
    expect(buckets.take('t', 0)).toBe(0);
    expect(buckets.take('t', 0)).toBeGreaterThan(0);
  });
});
