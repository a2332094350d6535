import { decodeSketch, encodeSketch, mergeSketch, newSketch, sketchQuantile } from './window-sketch';

/** The exact q-quantile as DDSketch defines it: the value of rank q·(n−1) among the sorted values. */
function exact(values: number[], q: number): number {
  const s = [...values].sort((x, y) => x - y);
  return s[Math.floor(q * (s.length - 1))];
}

let seed = 3;
const rnd = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
/** Pareto-distributed values (heavy tail), a few of them negative or zero. */
const skewed = (n: number) => Array.from({ length: n }, (_, i) => (i % 97 === 0 ? 0 : i % 89 === 0 ? -5 / rnd() : 2 / Math.pow(rnd(), 0.8)));

describe('window sketch', () => {
  const quantiles = [0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999];

  it('answers quantiles within 1% relative error on a skewed set', () => {
    const values = skewed(20_000);
    const s = newSketch();
    for (const v of values) s.accept(v);
    for (const q of quantiles) {
      const want = exact(values, q);
      expect(Math.abs(sketchQuantile(s, q) - want)).toBeLessThanOrEqual(Math.abs(want) * 0.01 + 1e-12);
    }
  });

  it('merges: 1 min from six 10 s sketches, 1 h from sixty 1 min sketches, through the encoded form, still within 1%', () => {
    const all: number[] = [];
    const hour = newSketch();
    for (let m = 0; m < 60; m++) {
      const minute = newSketch();
      const minuteValues: number[] = [];
      for (let w = 0; w < 6; w++) {
        const values = skewed(200 + ((m * 6 + w) % 7) * 50);
        const ten = newSketch();
        for (const v of values) ten.accept(v);
        const exactStats = { min: Math.min(...values), max: Math.max(...values), sum: values.reduce((a, b) => a + b, 0) };
        mergeSketch(minute, decodeSketch(encodeSketch(ten), exactStats));
        minuteValues.push(...values);
      }
      if (m === 0) {
        for (const q of quantiles) expect(Math.abs(sketchQuantile(minute, q) - exact(minuteValues, q))).toBeLessThanOrEqual(Math.abs(exact(minuteValues, q)) * 0.01 + 1e-12);
      }
      mergeSketch(hour, decodeSketch(encodeSketch(minute), { min: Math.min(...minuteValues), max: Math.max(...minuteValues), sum: 0 }));
      all.push(...minuteValues);
    }
    expect(hour.count).toBe(all.length);
    for (const q of quantiles) {
      const want = exact(all, q);
      expect(Math.abs(sketchQuantile(hour, q) - want)).toBeLessThanOrEqual(Math.abs(want) * 0.01 + 1e-12);
    }
  });

  it('never reports a quantile outside the exact min and max', () => {
    const s = newSketch();
    s.accept(100);
    s.accept(101);
    expect(sketchQuantile(s, 0)).toBe(100);
    expect(sketchQuantile(s, 1)).toBe(101);
  });
});
