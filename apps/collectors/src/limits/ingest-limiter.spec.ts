import { IngestLimiter } from './ingest-limiter';

describe('IngestLimiter', () => {
  let now = 0;
  const limiter = () => new IngestLimiter({ ratePerSecond: 100, burst: 200 }, () => now);

  beforeEach(() => (now = 1_000_000));

  it('allows a burst, then refuses with the wait until enough tokens are back', () => {
    const l = limiter();
    expect(l.take('a', 150, undefined)).toEqual({ allowed: true });
    expect(l.take('a', 100, undefined)).toMatchObject({ allowed: false, retryAfterSeconds: 1 });
    now += 500; // +50 tokens → 100 available
    expect(l.take('a', 100, undefined)).toEqual({ allowed: true });
  });

  it('keeps tenants apart', () => {
    const l = limiter();
    expect(l.take('a', 200, undefined)).toEqual({ allowed: true });
    expect(l.take('a', 1, undefined).allowed).toBe(false);
    expect(l.take('b', 200, undefined)).toEqual({ allowed: true });
  });

  it("applies a tenant's own limits over the defaults", () => {
    const l = limiter();
    expect(l.take('big', 5_000, { ratePerSecond: 10_000, burst: 20_000 })).toEqual({ allowed: true });
    expect(l.take('small', 20, { ratePerSecond: 5, burst: 10 })).toMatchObject({ allowed: false, retryAfterSeconds: 0 });
  });

  it('never refills beyond the burst', () => {
    const l = limiter();
    l.take('a', 1, undefined);
    now += 3_600_000;
    expect(l.take('a', 201, undefined).allowed).toBe(false);
    expect(l.take('a', 200, undefined).allowed).toBe(true);
  });
});
