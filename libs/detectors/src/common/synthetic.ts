/** Deterministic helpers for specs and benchmarks: seeded noise and calendar-aligned timestamps. */

/** Mulberry32: tiny seeded PRNG so synthetic series are identical on every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal draws via Box–Muller. */
export function seededGaussian(seed: number): () => number {
  const u = seededRandom(seed);
  return () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}

/** Monday 2024-01-01 00:00 UTC: weeks in specs start on a known weekday. */
export const MONDAY = Date.UTC(2024, 0, 1);
