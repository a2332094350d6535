import { DDSketch } from '@datadog/sketches-js';
import { MAX_BINS, WindowSketch } from './window-sketch';

/** The exact q-quantile as DDSketch defines it: the value of rank q·(n−1) among the sorted values. */
function exact(values: number[], q: number): number {
  const s = [...values].sort((x, y) => x - y);
  return s[Math.floor(q * (s.length - 1))];
}

let seed = 3;
const rnd = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
/** Pareto-distributed values (heavy tail), with zeros and negative values among them. */
const skewed = (n: number) => Array.from({ length: n }, (_, i) => (i % 97 === 0 ? 0 : i % 89 === 0 ? -5 / rnd() : 2 / Math.pow(rnd(), 0.8)));
const stats = (values: number[]) => ({ min: values.reduce((a, b) => Math.min(a, b)), max: values.reduce((a, b) => Math.max(a, b)), sum: values.reduce((a, b) => a + b, 0) });
const sketchOf = (values: number[]) => {
  const s = new WindowSketch();
  for (const v of values) s.accept(v);
  return s;
};
const quantiles = [0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999];
const within1pct = (got: number, want: number) => expect(Math.abs(got - want)).toBeLessThanOrEqual(Math.abs(want) * 0.01 + 1e-12);

describe('WindowSketch', () => {
  it('answers quantiles within 1% relative error on a skewed set, with exact count, sum, min and max', () => {
    const values = skewed(20_000);
    const s = sketchOf(values);
    expect({ count: s.count, min: s.min, max: s.max }).toEqual({ count: 20_000, min: stats(values).min, max: stats(values).max });
    expect(s.sum).toBeCloseTo(stats(values).sum, 6);
    for (const q of quantiles) within1pct(s.quantile(q), exact(values, q));
  });

  it("writes DDSketch's own protobuf: @datadog/sketches-js reads it and answers the same quantiles as its own sketch of the same values", () => {
    const values = skewed(5_000);
    const ours = sketchOf(values);
    const theirs = new DDSketch({ relativeAccuracy: 0.01 });
    for (const v of values) theirs.accept(v);
    const decoded = DDSketch.fromProto(ours.toProto());
    expect(decoded.count).toBe(5_000);
    for (const q of quantiles) {
      expect(decoded.getValueAtQuantile(q)).toBeCloseTo(theirs.getValueAtQuantile(q), 9);
      expect(ours.quantile(q)).toBeCloseTo(Math.min(ours.max, Math.max(ours.min, theirs.getValueAtQuantile(q))), 9);
    }
    // And back: the library's encoding decodes into ours.
    const back = WindowSketch.fromProto(theirs.toProto(), stats(values));
    for (const q of quantiles) expect(back.quantile(q)).toBeCloseTo(ours.quantile(q), 9);
  });

  it('merges: 1 min from six 10 s sketches, 1 h from sixty 1 min sketches, through the encoded form, still within 1%', () => {
    const all: number[] = [];
    const hour = new WindowSketch();
    for (let m = 0; m < 60; m++) {
      const minute = new WindowSketch();
      const minuteValues: number[] = [];
      for (let w = 0; w < 6; w++) {
        const values = skewed(200 + ((m * 6 + w) % 7) * 50);
        minute.merge(WindowSketch.fromProto(sketchOf(values).toBase64(), stats(values)));
        minuteValues.push(...values);
      }
      if (m === 0) for (const q of quantiles) within1pct(minute.quantile(q), exact(minuteValues, q));
      hour.merge(WindowSketch.fromProto(minute.toProto(), stats(minuteValues)));
      all.push(...minuteValues);
    }
    expect(hour.count).toBe(all.length);
    expect({ min: hour.min, max: hour.max }).toEqual({ min: stats(all).min, max: stats(all).max });
    for (const q of quantiles) within1pct(hour.quantile(q), exact(all, q));
  });

  it('keeps its encoded size bounded when one window mixes 1e-300 and 1e300: only the values far below the top collapse', () => {
    // Tiny values 300 orders of magnitude below the rest collapse into the lowest kept bin; the median and up stay within 1%.
    const values = [1e-300, 1e-200, 1e-100, -1e-300, ...skewed(2_000).map(Math.abs)];
    const s = sketchOf(values);
    const twoStores = 2 * (MAX_BINS * 8 + 16) + 64;
    expect(s.toProto().length).toBeLessThanOrEqual(twoStores);
    const back = WindowSketch.fromProto(s.toProto(), stats(values));
    expect(back.count).toBe(values.length);
    for (const q of [0.5, 0.9, 0.99]) within1pct(back.quantile(q), exact(values, q));
    // A hostile 1e300 beside them: still bounded, count and max exact (its own quantiles are its problem).
    s.accept(1e300);
    s.accept(-1e300);
    expect(s.toProto().length).toBeLessThanOrEqual(twoStores);
    const worst = WindowSketch.fromProto(s.toProto(), { ...stats(values), max: 1e300, min: -1e300 });
    expect(worst.count).toBe(values.length + 2);
    expect(worst.quantile(1)).toBe(1e300);
  });

  it('never reports a quantile outside the exact min and max', () => {
    const s = sketchOf([100, 101]);
    expect(s.quantile(0)).toBe(100);
    expect(s.quantile(1)).toBe(101);
    expect(s.quantile(0.5)).toBeGreaterThanOrEqual(100);
    expect(s.quantile(0.5)).toBeLessThanOrEqual(101);
  });
});
