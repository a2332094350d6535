import { ActiveSeriesCache } from './tenant-admission';
import { splitTelemetryBatch } from '../ingest/ingest.service';

describe('ActiveSeriesCache', () => {
  it('asks Redis only for series not confirmed within the refresh interval, per tenant', () => {
    let now = 0;
    const cache = new ActiveSeriesCache(1000, () => now);
    expect(cache.unconfirmed('a', ['s1', 's2'])).toEqual(['s1', 's2']);
    cache.confirm('a', ['s1', 's2']);
    expect(cache.unconfirmed('a', ['s1', 's2', 's3'])).toEqual(['s3']);
    expect(cache.unconfirmed('b', ['s1'])).toEqual(['s1']);
    now = 1000;
    expect(cache.unconfirmed('a', ['s1'])).toEqual(['s1']);
    expect(cache.size()).toBe(0); // swept
  });
});

describe('splitTelemetryBatch', () => {
  const batch = (p: number, e: number) => ({
    batchId: 'b',
    source: 'http',
    receivedAt: 1,
    points: Array.from({ length: p }, (_, i) => ({ name: 'm', labels: {}, value: i, timestamp: 1 })),
    events: Array.from({ length: e }, (_, i) => ({ type: 'active_users' as const, timestamp: 1, count: i, window: '1m' as const })),
  });
  it('shares points and events out, each in exactly one non-empty, smaller half', () => {
    for (const [p, e] of [[2, 0], [1, 1], [0, 2], [3, 5], [10, 1]]) {
      const [a, b] = splitTelemetryBatch(batch(p, e))!;
      expect(a.points.length + b.points.length).toBe(p);
      expect(a.events.length + b.events.length).toBe(e);
      expect(a.points.length + a.events.length).toBeGreaterThan(0);
      expect(b.points.length + b.events.length).toBeGreaterThan(0);
    }
    expect(splitTelemetryBatch(batch(1, 0))).toBeUndefined();
  });
});
