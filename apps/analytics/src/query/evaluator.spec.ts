import { WindowSketch } from '@headroom/contracts';
import { bucketise, instantOfSamples, interpolatedQuantile, overTimeOfPoints, overTimeOfSamples } from './evaluator';
import type { StoredWindow } from './query.repository';

/** A deterministic generator, so a failure replays. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

/** Windows of `ms` over `points`, built as analytics builds them (a sketch per window, its p-columns from it). */
function windowsOf(points: [number, number][], ms: number, seriesId = 's'): StoredWindow[] {
  const by = new Map<number, WindowSketch>();
  for (const [t, v] of points) {
    const start = t - (t % ms);
    (by.get(start) ?? by.set(start, new WindowSketch()).get(start)!).accept(v);
  }
  return [...by.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([start, s]) => {
      const [p50, p95, p99] = s.quantiles([0.5, 0.95, 0.99]);
      return { seriesId, start, ms, count: s.count, sum: s.sum, min: s.min, max: s.max, p50, p95, p99, sketch: s.toProto() };
    });
}

const T0 = 1_700_000_040_000; // a multiple of 1 min
const random = rng(7);
// ~3 points per 10 s for 10 min, never on a window boundary, log-normal-ish latencies.
const points: [number, number][] = [];
for (let t = T0 + 137; t < T0 + 600_000; t += 1000 + Math.floor(random() * 5000)) points.push([t, Math.exp(3 + random() * 2)]);

/** What a Prometheus holding the raw samples selects for [t − range, t] (no sample sits on a boundary). */
const rawIn = (t: number, range: number) => points.filter(([ts]) => ts > t - range && ts <= t).map(([, v]) => v);

describe('over the points, from windows', () => {
  const times = Array.from({ length: 9 }, (_, i) => T0 + 120_000 + i * 60_000);

  it.each([
    ['10 s windows', windowsOf(points, 10_000)],
    ['1 min windows', windowsOf(points, 60_000)],
    ['1 min windows then 10 s ones (a rollup not written yet)', [...windowsOf(points.filter(([t]) => t < T0 + 300_000), 60_000), ...windowsOf(points.filter(([t]) => t >= T0 + 300_000), 10_000)]],
  ])('%s: avg, sum, count, min and max exact; quantiles within 1%%', (_, windows) => {
    for (const [fn, exact] of [
      ['avg_over_time', (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length],
      ['sum_over_time', (v: number[]) => v.reduce((a, b) => a + b, 0)],
      ['count_over_time', (v: number[]) => v.length],
      ['min_over_time', (v: number[]) => Math.min(...v)],
      ['max_over_time', (v: number[]) => Math.max(...v)],
    ] as const) {
      const got = overTimeOfPoints(windows, times, 120_000, fn);
      expect(got.map(([t]) => t)).toEqual(times);
      for (const [t, v] of got) expect(v).toBeCloseTo(exact(rawIn(t, 120_000)), 9);
    }
    for (const q of [0.5, 0.9, 0.99]) {
      for (const [t, v] of overTimeOfPoints(windows, times, 120_000, 'quantile_over_time', q)) {
        const raw = rawIn(t, 120_000).sort((a, b) => a - b);
        const atRank = raw[Math.floor(q * (raw.length - 1))];
        expect(Math.abs(v - atRank) / atRank).toBeLessThanOrEqual(0.01);
      }
    }
  });

  it('leaves out times whose range holds no window', () => {
    const windows = windowsOf(points, 10_000);
    expect(overTimeOfPoints(windows, [T0 - 60_000, T0 + 60_000, T0 + 3_600_000], 60_000, 'count_over_time').map(([t]) => t)).toEqual([T0 + 60_000]);
  });
});

describe('bucketise', () => {
  it('merges the windows of each step exactly', () => {
    const buckets = bucketise(windowsOf(points, 10_000), T0, 60_000);
    expect(buckets).toHaveLength(10);
    for (const { start, merged } of buckets) {
      const raw = points.filter(([t]) => t >= start && t < start + 60_000).map(([, v]) => v);
      expect(merged.count).toBe(raw.length);
      expect(merged.max).toBe(Math.max(...raw));
      expect(merged.mean).toBeCloseTo(raw.reduce((a, b) => a + b, 0) / raw.length, 9);
      const p95 = raw.sort((a, b) => a - b)[Math.floor(0.95 * (raw.length - 1))];
      expect(Math.abs(merged.quantile(0.95) - p95) / p95).toBeLessThanOrEqual(0.01);
    }
  });
});

describe('over samples (the exposition view)', () => {
  const samples: [number, number][] = [
    [10_000, 1],
    [20_000, 4],
    [30_000, 2],
  ];

  it('looks back for the latest sample, as an instant selector does', () => {
    expect(instantOfSamples(samples, [5_000, 10_000, 25_000, 30_000, 40_000, 400_000], 300_000)).toEqual([
      [10_000, 1],
      [25_000, 4],
      [30_000, 2],
      [40_000, 2],
    ]);
  });

  it('applies the function to the samples in (t − range, t]', () => {
    expect(overTimeOfSamples(samples, [30_000], 20_000, 'avg_over_time')).toEqual([[30_000, 3]]);
    expect(overTimeOfSamples(samples, [30_000], 30_000, 'max_over_time')).toEqual([[30_000, 4]]);
  });

  it("interpolates quantiles as Prometheus's quantile_over_time", () => {
    expect(interpolatedQuantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(interpolatedQuantile([10, 20], 0.95)).toBe(19.5);
    expect(interpolatedQuantile([1], 0.9)).toBe(1);
  });
});
