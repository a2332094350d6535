import { ConfigIssue, IssueCollector, assertValid } from '../common/validation';

/**
 * Distribution drift between a reference window and a current window:
 * Population Stability Index over reference-quantile bins, and the two-sample
 * Kolmogorov–Smirnov test with its asymptotic p-value. The monitor keeps a fixed
 * reference (the first `referenceSize` points) and a sliding current window.
 */
export const DRIFT_DETECTOR_TYPE = 'drift';

export interface DriftConfig {
  referenceSize: number;
  currentSize: number;
  /** PSI bins, cut at reference quantiles so each holds ~1/bins of the reference. */
  bins: number;
  /** PSI at or above this is drift; 0.1–0.25 is the usual "moderate" band, > 0.25 "major". */
  psiThreshold: number;
  /** KS significance level. */
  alpha: number;
}

export const defaultDriftConfig: DriftConfig = { referenceSize: 1000, currentSize: 500, bins: 10, psiThreshold: 0.2, alpha: 0.01 };

export function validateDriftConfig(c: DriftConfig): ConfigIssue[] {
  const v = new IssueCollector();
  v.positiveInt('referenceSize', c.referenceSize);
  v.positiveInt('currentSize', c.currentSize);
  if (!Number.isInteger(c.bins) || c.bins < 2) v.add('bins', 'must be an integer >= 2');
  v.positive('psiThreshold', c.psiThreshold);
  v.inRange('alpha', c.alpha, 0, 1);
  return v.issues;
}

export interface KsResult {
  /** Largest gap between the two empirical CDFs. */
  statistic: number;
  pValue: number;
}

export interface DriftResult {
  psi: number;
  ks: KsResult;
  drifted: boolean;
  explanation: string;
}

/** Smallest share given to an empty bin, so PSI stays finite. */
const EPS = 1e-4;

export function populationStabilityIndex(reference: readonly number[], current: readonly number[], bins = 10): number {
  if (reference.length === 0 || current.length === 0) throw new Error('both windows must be non-empty');
  const sorted = [...reference].sort((a, b) => a - b);
  const edges: number[] = [];
  for (let k = 1; k < bins; k++) {
    const e = sorted[Math.min(sorted.length - 1, Math.floor((k * sorted.length) / bins))];
    if (edges.length === 0 || e > edges[edges.length - 1]) edges.push(e);
  }
  const count = (xs: readonly number[]): number[] => {
    const c = new Array<number>(edges.length + 1).fill(0);
    for (const x of xs) {
      let lo = 0;
      let hi = edges.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (x < edges[mid]) hi = mid;
        else lo = mid + 1;
      }
      c[lo]++;
    }
    return c;
  };
  const r = count(reference);
  const c = count(current);
  let psi = 0;
  for (let i = 0; i < r.length; i++) {
    const p = Math.max(r[i] / reference.length, EPS);
    const q = Math.max(c[i] / current.length, EPS);
    psi += (q - p) * Math.log(q / p);
  }
  return psi;
}

/** Two-sample KS with the asymptotic Kolmogorov distribution (Stephens' small-sample correction). */
export function kolmogorovSmirnov(a: readonly number[], b: readonly number[]): KsResult {
  if (a.length === 0 || b.length === 0) throw new Error('both windows must be non-empty');
  const x = [...a].sort((p, q) => p - q);
  const y = [...b].sort((p, q) => p - q);
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < x.length && j < y.length) {
    const v = Math.min(x[i], y[j]);
    while (i < x.length && x[i] === v) i++;
    while (j < y.length && y[j] === v) j++;
    d = Math.max(d, Math.abs(i / x.length - j / y.length));
  }
  const ne = (x.length * y.length) / (x.length + y.length);
  const sq = Math.sqrt(ne);
  return { statistic: d, pValue: kolmogorovTail((sq + 0.12 + 0.11 / sq) * d) };
}

/** Q_KS(λ) = 2 Σ_{k≥1} (−1)^{k−1} e^{−2k²λ²}. */
export function kolmogorovTail(lambda: number): number {
  if (lambda < 0.2) return 1;
  let sum = 0;
  for (let k = 1; k <= 100; k++) {
    const term = Math.exp(-2 * k * k * lambda * lambda);
    sum += (k % 2 === 1 ? 1 : -1) * term;
    if (term < 1e-12) break;
  }
  return Math.min(1, Math.max(0, 2 * sum));
}

export function compareWindows(reference: readonly number[], current: readonly number[], config: DriftConfig = defaultDriftConfig): DriftResult {
  const psi = populationStabilityIndex(reference, current, config.bins);
  const ks = kolmogorovSmirnov(reference, current);
  const drifted = psi >= config.psiThreshold || ks.pValue < config.alpha;
  const verdict = drifted ? 'drift' : 'no drift';
  const explanation = `${verdict}: PSI ${psi.toFixed(3)} (threshold ${config.psiThreshold}), KS D=${ks.statistic.toFixed(3)} p=${ks.pValue.toPrecision(2)} (alpha ${config.alpha}), ${reference.length} vs ${current.length} points`;
  return { psi, ks, drifted, explanation };
}

export interface DriftMonitorState {
  reference: number[];
  current: number[];
  /** Next write position in the current ring buffer. */
  head: number;
}

/** Streaming wrapper: the first points form the reference, then a sliding current window. */
export class DriftMonitor {
  private reference: number[] = [];
  private current: number[] = [];
  private head = 0;

  constructor(
    readonly config: DriftConfig,
    state?: DriftMonitorState,
  ) {
    assertValid(DRIFT_DETECTOR_TYPE, validateDriftConfig(config));
    if (state) {
      this.reference = state.reference.slice();
      this.current = state.current.slice();
      this.head = state.head;
    }
  }

  update(value: number): void {
    if (!Number.isFinite(value)) return;
    if (this.reference.length < this.config.referenceSize) {
      this.reference.push(value);
      return;
    }
    if (this.current.length < this.config.currentSize) this.current.push(value);
    else this.current[this.head] = value;
    this.head = (this.head + 1) % this.config.currentSize;
  }

  /** Null until both windows are full. */
  check(): DriftResult | null {
    if (this.reference.length < this.config.referenceSize || this.current.length < this.config.currentSize) return null;
    return compareWindows(this.reference, this.current, this.config);
  }

  /** Start over with the current window as the new normal, e.g. after a confirmed deploy. */
  rebase(): void {
    this.reference = this.current.slice(this.head).concat(this.current.slice(0, this.head)).slice(-this.config.referenceSize);
    this.current = [];
    this.head = 0;
  }

  snapshot(): DriftMonitorState {
    return { reference: this.reference.slice(), current: this.current.slice(), head: this.head };
  }
}

export function createDriftMonitor(config: Partial<DriftConfig> = {}, state?: DriftMonitorState): DriftMonitor {
  return new DriftMonitor({ ...defaultDriftConfig, ...config }, state);
}
