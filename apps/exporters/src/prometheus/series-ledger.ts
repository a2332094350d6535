import type { AggregateWindow, Series } from '@headroom/contracts';

export const windowEnd = (w: { windowStart: number; windowMs: number }): number => w.windowStart + w.windowMs;

/** Identity of a window (the aggregate contract's idempotency key, within a tenant). */
export const windowKey = (seriesId: string, windowStart: number, windowMs: number): string => `${seriesId}\u0000${windowStart}\u0000${windowMs}`;

/** A series' running counters and its newest window (the "frontier"). */
export interface SeriesState {
  seriesId: string;
  series: Series;
  unit: string | null;
  /** Points of every window counted since the series started (each window once, at its highest revision). */
  pointsTotal: number;
  /** Sum of those points' values. */
  pointsSumTotal: number;
  /** The newest window applied, or null while none was. */
  frontier: { windowStart: number; windowMs: number } | null;
}

/** A window as held for scrapes and for deduplicating its revisions. */
export interface StoredWindow {
  seriesId: string;
  windowStart: number;
  windowMs: number;
  revision: number;
  count: number;
  sum: number;
  min: number;
  max: number;
  p50: number;
  p95: number;
  p99: number;
  /**
   * The series' counters right after this window was first applied, if it advanced the frontier;
   * null for a window that arrived after a newer one (its points reach the counters, exposed at the
   * next frontier window). Never changed afterwards: a sample's value at a timestamp stays what a
   * scraper may already have stored.
   */
  pointsTotal: number | null;
  pointsSumTotal: number | null;
  /** When this replica's clock first applied it (ms): what the scrape lookback measures. */
  appliedAt: number;
}

export interface LedgerOutcomes {
  applied: number;
  /** Replays: a window held at this or a higher revision. */
  superseded: number;
  /** Ended before the retention horizon: its earlier revisions may be forgotten, so it cannot be counted exactly once. */
  expired: number;
}

export interface LedgerResult {
  /** Series whose state changed (new ones included). */
  series: SeriesState[];
  /** Windows to insert or overwrite. */
  windows: StoredWindow[];
  outcomes: LedgerOutcomes;
}

/**
 * Applies one tenant's batch of windows to what is held for them: each window is counted once at its
 * highest revision (a revision adds only its difference), and a series' counters never go down.
 *
 * Why counters stay monotonic in time: a counter sample is written only for a window that advances
 * its series' frontier (ends later than every window applied before it), with the running total at
 * that moment; frontiers are applied in increasing end time and the total never decreases (a count
 * delta below zero is clamped), so by timestamp the samples never decrease either.
 */
export function applyWindows(
  held: { series: ReadonlyMap<string, SeriesState>; windows: ReadonlyMap<string, StoredWindow> },
  incoming: readonly AggregateWindow[],
  opts: { now: number; expiredBefore: number },
): LedgerResult {
  // One window per key, at its highest revision; then in end order, so a batch advances frontiers in time order.
  const latest = new Map<string, AggregateWindow>();
  for (const w of incoming) {
    const key = windowKey(w.seriesId, w.windowStart, w.windowMs);
    const other = latest.get(key);
    if (!other || (other.revision ?? 0) <= (w.revision ?? 0)) latest.set(key, w);
  }
  const ordered = [...latest.values()].sort((a, b) => windowEnd(a) - windowEnd(b) || a.windowStart - b.windowStart);

  const outcomes: LedgerOutcomes = { applied: 0, superseded: incoming.length - latest.size, expired: 0 };
  const series = new Map<string, SeriesState>();
  const windows: StoredWindow[] = [];
  for (const w of ordered) {
    if (windowEnd(w) < opts.expiredBefore) {
      outcomes.expired += 1;
      continue;
    }
    const revision = w.revision ?? 0;
    const before = held.windows.get(windowKey(w.seriesId, w.windowStart, w.windowMs));
    if (before && before.revision >= revision) {
      outcomes.superseded += 1;
      continue;
    }
    const prior = series.get(w.seriesId) ?? held.series.get(w.seriesId);
    const state: SeriesState = prior
      ? { ...prior, series: w.series, unit: w.unit ?? prior.unit }
      : { seriesId: w.seriesId, series: w.series, unit: w.unit ?? null, pointsTotal: 0, pointsSumTotal: 0, frontier: null };
    state.pointsTotal += Math.max(0, w.count - (before?.count ?? 0));
    state.pointsSumTotal += w.sum - (before?.sum ?? 0);
    const advances = !state.frontier || windowEnd(w) > windowEnd(state.frontier);
    if (advances) state.frontier = { windowStart: w.windowStart, windowMs: w.windowMs };
    series.set(w.seriesId, state);

    const firstCounters = before
      ? { pointsTotal: before.pointsTotal, pointsSumTotal: before.pointsSumTotal }
      : advances
        ? { pointsTotal: state.pointsTotal, pointsSumTotal: state.pointsSumTotal }
        : { pointsTotal: null, pointsSumTotal: null };
    windows.push({
      seriesId: w.seriesId,
      windowStart: w.windowStart,
      windowMs: w.windowMs,
      revision,
      count: w.count,
      sum: w.sum,
      min: w.min,
      max: w.max,
      p50: w.p50,
      p95: w.p95,
      p99: w.p99,
      ...firstCounters,
      appliedAt: before?.appliedAt ?? opts.now,
    });
    outcomes.applied += 1;
  }
  return { series: [...series.values()], windows, outcomes };
}
