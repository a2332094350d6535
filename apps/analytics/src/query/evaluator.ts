/*
 * Pure evaluation over stored windows: nothing here reads the database or the clock. Windows come
 * in sorted by series, then start, without overlap (see `tiles` in query.repository.ts).
 */
import { WindowSketch } from '@headroom/contracts';
import type { OverTimeFunction } from './promql';
import type { StoredWindow } from './query.repository';

/** Each window's sketch is decoded once per query, however many overlapping ranges merge it. */
const decoded = new WeakMap<StoredWindow, WindowSketch>();

function sketchOf(w: StoredWindow): WindowSketch {
  let s = decoded.get(w);
  if (!s) {
    if (!w.sketch) throw new Error('window read without its sketch');
    s = WindowSketch.fromProto(w.sketch, w);
    decoded.set(w, s);
  }
  return s;
}

const STORED_QUANTILES: Readonly<Record<string, 'p50' | 'p95' | 'p99'>> = { '0.5': 'p50', '0.95': 'p95', '0.99': 'p99' };

/**
 * Windows merged exactly: count, sum, min and max add up; quantiles come from the merged DDSketch
 * (within its 1% relative error), or from the stored column when one window at p50/p95/p99 is all
 * there is (the column is that sketch's answer, and no decoding is needed).
 */
export class Merged {
  count = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;
  private readonly windows: StoredWindow[] = [];
  private sketch: WindowSketch | undefined;

  add(w: StoredWindow): void {
    this.count += w.count;
    this.sum += w.sum;
    if (w.min < this.min) this.min = w.min;
    if (w.max > this.max) this.max = w.max;
    this.windows.push(w);
  }

  get empty(): boolean {
    return this.count === 0;
  }

  get mean(): number {
    return this.sum / this.count;
  }

  quantile(q: number): number {
    if (q <= 0) return this.min;
    if (q >= 1) return this.max;
    const column = STORED_QUANTILES[String(q)];
    if (this.windows.length === 1 && column) return this.windows[0][column];
    return this.mergedSketch().quantile(q);
  }

  /** Whether `quantile(q)` needs the windows' sketches. */
  static needsSketch(q: number, windowsPerMerge: number): boolean {
    return q > 0 && q < 1 && !(windowsPerMerge === 1 && STORED_QUANTILES[String(q)]);
  }

  private mergedSketch(): WindowSketch {
    if (this.sketch) return this.sketch;
    const s = new WindowSketch();
    for (const w of this.windows) s.merge(sketchOf(w));
    this.sketch = s;
    return s;
  }
}

/** Groups sorted windows by series. */
export function bySeries(windows: readonly StoredWindow[]): Map<string, StoredWindow[]> {
  const out = new Map<string, StoredWindow[]>();
  for (const w of windows) {
    const list = out.get(w.seriesId);
    if (list) list.push(w);
    else out.set(w.seriesId, [w]);
  }
  return out;
}

/** The windows of one series merged per step: bucket k holds the windows starting in [from + k·step, from + (k+1)·step). */
export function bucketise(windows: readonly StoredWindow[], from: number, stepMs: number): { start: number; merged: Merged }[] {
  const buckets = new Map<number, Merged>();
  for (const w of windows) {
    const start = from + Math.floor((w.start - from) / stepMs) * stepMs;
    const m = buckets.get(start) ?? buckets.set(start, new Merged()).get(start)!;
    m.add(w);
  }
  return [...buckets.entries()].sort((a, b) => a[0] - b[0]).map(([start, merged]) => ({ start, merged }));
}

/**
 * `<fn>_over_time(series[range])` at each of `times` over the points the windows summarise: at t it
 * merges the windows that end in (t − range, t]. When t and range are multiples of the resolution
 * these are exactly the points a Prometheus holding the raw samples would select (none on a window
 * boundary), so avg, sum, count, min and max are exact and quantiles are within the sketch's error.
 */
export function overTimeOfPoints(windows: readonly StoredWindow[], times: readonly number[], rangeMs: number, fn: OverTimeFunction, q?: number): [number, number][] {
  const out: [number, number][] = [];
  let lo = 0;
  let hi = 0;
  for (const t of times) {
    while (lo < windows.length && windows[lo].start + windows[lo].ms <= t - rangeMs) lo++;
    if (hi < lo) hi = lo;
    while (hi < windows.length && windows[hi].start + windows[hi].ms <= t) hi++;
    if (hi <= lo) continue;
    const m = new Merged();
    for (let i = lo; i < hi; i++) m.add(windows[i]);
    out.push([t, pointStatistic(m, fn, q)]);
  }
  return out;
}

function pointStatistic(m: Merged, fn: OverTimeFunction, q?: number): number {
  switch (fn) {
    case 'avg_over_time':
      return m.mean;
    case 'sum_over_time':
      return m.sum;
    case 'count_over_time':
      return m.count;
    case 'min_over_time':
      return m.min;
    case 'max_over_time':
      return m.max;
    case 'quantile_over_time':
      return m.quantile(q!);
  }
}

/** One sample per window (its statistic, stamped at the window's end), as a Prometheus scraping the exporter sees. */
export type Samples = readonly (readonly [number, number])[];

/** Prometheus's instant-vector lookup: the latest sample in (t − lookback, t]. */
export function instantOfSamples(samples: Samples, times: readonly number[], lookbackMs: number): [number, number][] {
  const out: [number, number][] = [];
  let i = 0;
  for (const t of times) {
    while (i < samples.length && samples[i][0] <= t) i++;
    const last = samples[i - 1];
    if (last && last[0] > t - lookbackMs) out.push([t, last[1]]);
  }
  return out;
}

/** Prometheus's `<fn>_over_time` over samples in (t − range, t]. */
export function overTimeOfSamples(samples: Samples, times: readonly number[], rangeMs: number, fn: OverTimeFunction, q?: number): [number, number][] {
  const out: [number, number][] = [];
  let lo = 0;
  let hi = 0;
  for (const t of times) {
    while (lo < samples.length && samples[lo][0] <= t - rangeMs) lo++;
    if (hi < lo) hi = lo;
    while (hi < samples.length && samples[hi][0] <= t) hi++;
    if (hi <= lo) continue;
    const values = samples.slice(lo, hi).map((s) => s[1]);
    out.push([t, sampleStatistic(values, fn, q)]);
  }
  return out;
}

function sampleStatistic(values: number[], fn: OverTimeFunction, q?: number): number {
  switch (fn) {
    case 'avg_over_time':
      return values.reduce((a, b) => a + b, 0) / values.length;
    case 'sum_over_time':
      return values.reduce((a, b) => a + b, 0);
    case 'count_over_time':
      return values.length;
    case 'min_over_time':
      return Math.min(...values);
    case 'max_over_time':
      return Math.max(...values);
    case 'quantile_over_time':
      return interpolatedQuantile(values, q!);
  }
}

/** Prometheus's `quantile`: linear interpolation between the values around rank φ·(n−1). */
export function interpolatedQuantile(values: number[], q: number): number {
  if (q < 0) return -Infinity;
  if (q > 1) return Infinity;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = q * (sorted.length - 1);
  const lower = Math.max(0, Math.floor(rank));
  const upper = Math.min(sorted.length - 1, lower + 1);
  const weight = rank - Math.floor(rank);
  return sorted[lower] * (1 - weight) + sorted[upper] * weight;
}

/** Prometheus writes sample values as Go's FormatFloat(v, 'f', -1, 64) would: plain digits, NaN, +Inf, -Inf. */
export function formatSampleValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}
