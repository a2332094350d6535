import type { AggregateWindow } from '@headroom/contracts';
import { LatestWindows } from './latest-windows.store';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const w = (seriesId: string, windowStart: number, count = 1): AggregateWindow => ({
  series: { name: 'plays', labels: { id: seriesId } },
  seriesId,
  windowStart,
  windowMs: 10_000,
  count,
  sum: count,
  min: 1,
  max: 1,
  p50: 1,
  p95: 1,
  p99: 1,
});

describe('LatestWindows', () => {
  it('keeps the newest window per series; an older replay never overwrites it, an equal one does', () => {
    const store = new LatestWindows();
    expect(store.offer('a', w('s1', T0 + 10_000, 5))).toBe(true);
    expect(store.offer('a', w('s1', T0, 99))).toBe(false);
    expect(store.fresh('a', T0 + 20_000, 300_000).map((x) => x.count)).toEqual([5]);
    expect(store.offer('a', w('s1', T0 + 10_000, 6))).toBe(true);
    expect(store.fresh('a', T0 + 20_000, 300_000).map((x) => x.count)).toEqual([6]);
  });

  it('keeps tenants apart', () => {
    const store = new LatestWindows();
    store.offer('a', w('s1', T0));
    store.offer('b', w('s1', T0 + 10_000, 7));
    expect(store.fresh('a', T0, 300_000).map((x) => x.count)).toEqual([1]);
    expect(store.fresh('b', T0, 300_000).map((x) => x.count)).toEqual([7]);
    expect(store.fresh('c', T0, 300_000)).toEqual([]);
  });

  it('hides a series once its latest window ended more than the staleness period ago', () => {
    const store = new LatestWindows();
    store.offer('a', w('old', T0));
    store.offer('a', w('new', T0 + 60_000));
    const end = T0 + 10_000;
    expect(store.fresh('a', end + 300_000, 300_000).map((x) => x.seriesId).sort()).toEqual(['new', 'old']);
    expect(store.fresh('a', end + 300_001, 300_000).map((x) => x.seriesId)).toEqual(['new']);
    expect(store.freshCounts(end + 300_001, 300_000)).toEqual(new Map([['a', 1]]));
  });

  it('prunes windows that ended before a cutoff and forgets erased tenants', () => {
    const store = new LatestWindows();
    store.offer('a', w('old', T0));
    store.offer('a', w('new', T0 + 60_000));
    store.offer('b', w('x', T0));
    expect(store.prune(T0 + 10_001)).toBe(2);
    expect(store.fresh('a', T0, Infinity).map((x) => x.seriesId)).toEqual(['new']);
    store.dropTenant('a');
    expect(store.fresh('a', T0, Infinity)).toEqual([]);
  });
});
