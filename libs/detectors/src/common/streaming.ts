/** A detector fed one point at a time; it never sees the future and keeps bounded state. */
export interface StreamingDetector<State> {
  /** Feed the next point (epoch ms, value) and get its anomaly score in [0, 1]. */
  update(timestamp: number, value: number): number;
  /** Human-readable reason for the last score; built lazily so the hot path stays allocation-free. */
  explain(): string;
  /** Plain JSON-safe state; `factory(config, state)` resumes with identical output. */
  snapshot(): State;
}

/** Standard normal upper tail Q(z) = 1 − Φ(z), Abramowitz–Stegun 7.1.26 erfc approximation (|ε| < 1.5e-7). */
export function normalTail(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erfc = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) * Math.exp(-x * x);
  return z >= 0 ? 0.5 * erfc : 1 - 0.5 * erfc;
}

/** Significant-figure formatting for explanations ("412 ms", "0.0031"). */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a >= 1000 || a === 0) return String(Math.round(v));
  if (a >= 10) return v.toFixed(1).replace(/\.0$/, '');
  return Number(v.toPrecision(3)).toString();
}
