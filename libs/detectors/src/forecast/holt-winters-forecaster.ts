import { ConfigIssue, IssueCollector, assertValid } from '../common/validation';
import { normalTail } from '../common/streaming';

/**
 * Additive Holt-Winters (level + trend + season) with prediction intervals, fed one point
 * at a time. The season length is chosen from the data (autocorrelation over the candidate
 * periods on the first `detectAfter` points); until then, or if no candidate is clearly
 * periodic, it runs as Holt's linear trend.
 */
export const HOLT_WINTERS_TYPE = 'holt-winters';

export interface HoltWintersConfig {
  alpha: number;
  beta: number;
  gamma: number;
  /** Season lengths (in points) to try; e.g. 24 for hourly data with a daily cycle. */
  candidatePeriods: number[];
  /** Minimum autocorrelation at a candidate lag to accept it as the season. */
  minAutocorrelation: number;
  /** Points buffered before the season is chosen (must cover two of the longest candidate). */
  detectAfter: number;
}

export const defaultHoltWintersConfig: HoltWintersConfig = {
  alpha: 0.2,
  beta: 0.02,
  gamma: 0.1,
  candidatePeriods: [24, 48, 96, 144, 168, 288],
  minAutocorrelation: 0.3,
  detectAfter: 600,
};

export function validateHoltWintersConfig(c: HoltWintersConfig): ConfigIssue[] {
  const v = new IssueCollector();
  v.inRange('alpha', c.alpha, 0, 1);
  v.inRange('beta', c.beta, 0, 1, true);
  v.inRange('gamma', c.gamma, 0, 1, true);
  v.inRange('minAutocorrelation', c.minAutocorrelation, 0, 1);
  if (!Array.isArray(c.candidatePeriods)) v.add('candidatePeriods', 'must be an array');
  else c.candidatePeriods.forEach((p, i) => v.positiveInt(`candidatePeriods.${i}`, p));
  v.positiveInt('detectAfter', c.detectAfter);
  const longest = Array.isArray(c.candidatePeriods) && c.candidatePeriods.length > 0 ? Math.max(...c.candidatePeriods) : 0;
  if (Number.isInteger(c.detectAfter) && c.detectAfter < 2 * longest) v.add('detectAfter', 'must cover at least two of the longest candidate period');
  return v.issues;
}

export interface HoltWintersState {
  n: number;
  /** Points kept only until the season is chosen. */
  buffer: number[];
  period: number;
  level: number;
  trend: number;
  season: number[];
  /** EW mean of squared one-step errors. */
  mse: number;
}

export interface ForecastPoint {
  step: number;
  mean: number;
  lower: number;
  upper: number;
}

export interface CrossingForecast {
  /** Step at which the point forecast reaches the threshold, or null within the horizon. */
  expectedStep: number | null;
  /** First step at which P(value beyond threshold) ≥ confidence, or null. */
  confidentStep: number | null;
  /** P(value beyond threshold) at each step 1..horizon. */
  probability: number[];
}

export class HoltWintersForecaster {
  private n = 0;
  private buffer: number[] = [];
  private period = 0;
  private level = 0;
  private trend = 0;
  private season: number[] = [];
  private mse = 0;

  constructor(
    readonly config: HoltWintersConfig,
    state?: HoltWintersState,
  ) {
    assertValid(HOLT_WINTERS_TYPE, validateHoltWintersConfig(config));
    if (state) {
      this.n = state.n;
      this.buffer = state.buffer.slice();
      this.period = state.period;
      this.level = state.level;
      this.trend = state.trend;
      this.season = state.season.slice();
      this.mse = state.mse;
    }
  }

  /** Chosen season length in points (0 = no season). */
  get seasonLength(): number {
    return this.period;
  }

  update(value: number): void {
    if (!Number.isFinite(value)) return;
    const c = this.config;
    if (this.n < c.detectAfter) this.buffer.push(value);
    if (this.n === c.detectAfter - 1) this.initialise();
    else if (this.n >= c.detectAfter) this.step(value);
    else this.holt(value);
    this.n++;
  }

  private holt(value: number): void {
    if (this.n === 0) {
      this.level = value;
      return;
    }
    const err = value - (this.level + this.trend);
    this.track(err);
    const prev = this.level;
    // Level moves with the trend too, or a trending series is followed one step late forever.
    this.level = prev + this.trend + this.config.alpha * err;
    this.trend += this.config.beta * (this.level - prev - this.trend);
  }

  /** Pick the season from the buffered points, then replay them through the full model. */
  private initialise(): void {
    const xs = this.buffer;
    this.period = choosePeriod(xs, this.config.candidatePeriods, this.config.minAutocorrelation);
    const p = this.period;
    this.season = new Array<number>(p).fill(0);
    if (p > 0) {
      // Initial season: average deviation from each cycle's mean over the buffered cycles.
      const cycles = Math.floor(xs.length / p);
      for (let k = 0; k < cycles; k++) {
        let mean = 0;
        for (let i = 0; i < p; i++) mean += xs[k * p + i] / p;
        for (let i = 0; i < p; i++) this.season[i] += (xs[k * p + i] - mean) / cycles;
      }
    }
    this.level = xs[0] - (p > 0 ? this.season[0] : 0);
    this.trend = 0;
    this.mse = 0;
    for (let i = 1; i < xs.length; i++) this.step(xs[i], i);
    this.buffer = [];
  }

  private step(value: number, index = this.n): void {
    const c = this.config;
    const p = this.period;
    const s = p > 0 ? this.season[index % p] : 0;
    const err = value - (this.level + this.trend + s);
    this.track(err);
    const prev = this.level;
    this.level = prev + this.trend + c.alpha * err;
    this.trend += c.alpha * c.beta * err;
    if (p > 0) this.season[index % p] = s + c.gamma * (1 - c.alpha) * err;
  }

  private track(err: number): void {
    const a = this.n < 50 ? 1 / (this.n + 1) : 0.02;
    this.mse += a * (err * err - this.mse);
  }

  /** Point forecasts 1..horizon with a central interval at `confidence` (e.g. 0.95). */
  forecast(horizon: number, confidence = 0.95): ForecastPoint[] {
    if (!Number.isInteger(horizon) || horizon <= 0) throw new Error('horizon must be a positive integer');
    if (!(confidence > 0 && confidence < 1)) throw new Error('confidence must be in (0, 1)');
    const z = quantile(0.5 + confidence / 2);
    return this.moments(horizon).map(({ mean, sd }, i) => ({ step: i + 1, mean, lower: mean - z * sd, upper: mean + z * sd }));
  }

  /**
   * When will the series cross `threshold` (upwards if it is above the last level, else
   * downwards)? Gives the step where the forecast reaches it and where it is reached with
   * at least `confidence` probability.
   */
  whenCrosses(threshold: number, horizon: number, confidence = 0.9): CrossingForecast {
    const up = threshold >= this.level;
    const probability = this.moments(horizon).map(({ mean, sd }) => {
      const zv = (threshold - mean) / (sd || 1e-12);
      return up ? normalTail(zv) : 1 - normalTail(zv);
    });
    const m = this.moments(horizon);
    const expected = m.findIndex(({ mean }) => (up ? mean >= threshold : mean <= threshold));
    const confident = probability.findIndex((pr) => pr >= confidence);
    return { expectedStep: expected < 0 ? null : expected + 1, confidentStep: confident < 0 ? null : confident + 1, probability };
  }

  private moments(horizon: number): Array<{ mean: number; sd: number }> {
    const c = this.config;
    const p = this.period;
    const out: Array<{ mean: number; sd: number }> = [];
    // Additive-model variance: σ²(1 + Σ_{j<h} (α(1 + jβ) + γ(1−α)·[j mod p = 0])²).
    let acc = 1;
    for (let h = 1; h <= horizon; h++) {
      const s = p > 0 ? this.season[(this.n + h - 1) % p] : 0;
      out.push({ mean: this.level + h * this.trend + s, sd: Math.sqrt(this.mse * acc) });
      const seasonal = p > 0 && h % p === 0 ? c.gamma * (1 - c.alpha) : 0;
      const psi = c.alpha * (1 + h * c.beta) + seasonal;
      acc += psi * psi;
    }
    return out;
  }

  snapshot(): HoltWintersState {
    return { n: this.n, buffer: this.buffer.slice(), period: this.period, level: this.level, trend: this.trend, season: this.season.slice(), mse: this.mse };
  }
}

/** Candidate lag with the highest autocorrelation above `minAc`, else 0. */
export function choosePeriod(xs: readonly number[], candidates: readonly number[], minAc: number): number {
  // Remove a linear trend first, or a trending series looks periodic at every lag.
  const n = xs.length;
  const tMean = (n - 1) / 2;
  let xMean = 0;
  for (const x of xs) xMean += x / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (i - tMean) * (xs[i] - xMean);
    sxx += (i - tMean) * (i - tMean);
  }
  const slope = sxx > 0 ? sxy / sxx : 0;
  const r = xs.map((x, i) => x - xMean - slope * (i - tMean));
  let denom = 0;
  for (const v of r) denom += v * v;
  if (denom === 0) return 0;
  let best = 0;
  let bestAc = minAc;
  for (const lag of candidates) {
    if (lag >= n / 2) continue;
    let num = 0;
    for (let i = lag; i < n; i++) num += r[i] * r[i - lag];
    const ac = num / denom;
    if (ac > bestAc) {
      bestAc = ac;
      best = lag;
    }
  }
  return best;
}

/** Inverse standard normal CDF by bisection on normalTail (only used off the hot path). */
function quantile(p: number): number {
  let lo = -10;
  let hi = 10;
  for (let i = 0; i < 80; i++) {
    const mid = (lo + hi) / 2;
    if (1 - normalTail(mid) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

export function createHoltWintersForecaster(config: Partial<HoltWintersConfig> = {}, state?: HoltWintersState): HoltWintersForecaster {
  return new HoltWintersForecaster({ ...defaultHoltWintersConfig, ...config }, state);
}
