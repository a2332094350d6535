import type { AggregateWindow } from '@headroom/contracts';
import { applyWindows, windowEnd, windowKey, type SeriesState, type StoredWindow } from './series-ledger';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const W = 10_000;

function w(k: number, count: number, extra: Partial<AggregateWindow> = {}): AggregateWindow {
  return { series: { name: 'plays', labels: { region: 'eu' } }, seriesId: 'plays-eu', windowStart: T0 + k * W, windowMs: W, count, sum: count * 2, min: 1, max: 3, p50: 2, p95: 2.9, p99: 3, ...extra };
}

/** Applies batches one after the other, carrying the held state as a repository would. */
function ledger() {
  const series = new Map<string, SeriesState>();
  const windows = new Map<string, StoredWindow>();
  return {
    series,
    windows,
    apply(batch: AggregateWindow[], now = T0 + 3_600_000, expiredBefore = T0 - 1) {
      const result = applyWindows({ series, windows }, batch, { now, expiredBefore });
      for (const s of result.series) series.set(s.seriesId, s);
      for (const x of result.windows) windows.set(windowKey(x.seriesId, x.windowStart, x.windowMs), x);
      return result.outcomes;
    },
    /** The counter samples a scraper could see, in timestamp order. */
    counterSamples: () =>
      [...windows.values()]
        .filter((x) => x.pointsTotal !== null)
        .sort((a, b) => windowEnd(a) - windowEnd(b))
        .map((x) => [windowEnd(x) - T0, x.pointsTotal]),
  };
}

describe('applyWindows', () => {
  it('counts each window once: the running total is stamped on each window as it advances the series', () => {
    const l = ledger();
    expect(l.apply([w(0, 5), w(1, 7)])).toEqual({ applied: 2, superseded: 0, expired: 0 });
    expect(l.apply([w(2, 4)])).toEqual({ applied: 1, superseded: 0, expired: 0 });
    expect(l.counterSamples()).toEqual([
      [10_000, 5],
      [20_000, 12],
      [30_000, 16],
    ]);
    expect(l.series.get('plays-eu')).toMatchObject({ pointsTotal: 16, pointsSumTotal: 32, frontier: { windowStart: T0 + 2 * W, windowMs: W } });
  });

  it('ignores replays of a revision already held, in another batch or the same one', () => {
    const l = ledger();
    l.apply([w(0, 5), w(0, 5)]);
    expect(l.apply([w(0, 5)])).toEqual({ applied: 0, superseded: 1, expired: 0 });
    expect(l.series.get('plays-eu')?.pointsTotal).toBe(5);
  });

  it('adds only the difference of a later revision, and keeps the counter value already stamped on that window', () => {
    const l = ledger();
    l.apply([w(0, 5), w(1, 7)]);
    l.apply([w(0, 9, { revision: 1, sum: 18 })]);
    expect(l.series.get('plays-eu')).toMatchObject({ pointsTotal: 16, pointsSumTotal: 32 });
    // The revised window's gauges change; its counter sample does not (a scraper may hold it already).
    expect(l.windows.get(windowKey('plays-eu', T0, W))).toMatchObject({ count: 9, revision: 1, pointsTotal: 5 });
    // The late points appear at the next window that advances the series.
    l.apply([w(2, 1)]);
    expect(l.counterSamples()).toEqual([
      [10_000, 5],
      [20_000, 12],
      [30_000, 17],
    ]);
  });

  it('takes the highest revision when a batch holds several', () => {
    const l = ledger();
    l.apply([w(0, 9, { revision: 2 }), w(0, 5, { revision: 0 }), w(0, 7, { revision: 1 })]);
    expect(l.series.get('plays-eu')?.pointsTotal).toBe(9);
  });

  it('keeps counter samples non-decreasing in time when windows arrive out of order', () => {
    const l = ledger();
    l.apply([w(0, 5)]);
    l.apply([w(2, 4)]);
    l.apply([w(1, 100)]); // arrives after a newer window: counted, stamped nowhere of its own
    l.apply([w(3, 1)]);
    expect(l.counterSamples()).toEqual([
      [10_000, 5],
      [30_000, 9],
      [40_000, 110],
    ]);
    expect(l.windows.get(windowKey('plays-eu', T0 + W, W))).toMatchObject({ count: 100, pointsTotal: null });
  });

  it('never lowers the point counter, even for a revision with fewer points', () => {
    const l = ledger();
    l.apply([w(0, 5)]);
    l.apply([w(0, 3, { revision: 1 })]);
    expect(l.series.get('plays-eu')?.pointsTotal).toBe(5);
  });

  it('ignores windows that ended before the retention horizon (their earlier revisions may be forgotten)', () => {
    const l = ledger();
    expect(l.apply([w(0, 5), w(5, 2)], T0 + 3_600_000, T0 + 30_000)).toEqual({ applied: 1, superseded: 0, expired: 1 });
    expect(l.series.get('plays-eu')?.pointsTotal).toBe(2);
  });

  it('keeps the time the window was first applied across revisions (the scrape lookback measures it)', () => {
    const l = ledger();
    l.apply([w(0, 5)], T0 + 1_000);
    l.apply([w(0, 6, { revision: 1 })], T0 + 99_000);
    expect(l.windows.get(windowKey('plays-eu', T0, W))?.appliedAt).toBe(T0 + 1_000);
  });
});
