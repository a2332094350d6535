import { ConfigIssue, IssueCollector, assertValid } from '../common/validation';
import { StreamingDetector, formatNumber } from '../common/streaming';

/**
 * Streaming anomaly detector for one series, O(1) time and ~60 numbers of state per series.
 *
 * Two views of each point, the larger wins:
 *  1. Seasonal residual. expected = level + hour-of-day offset (interpolated between hour
 *     centres) + day-of-week offset; residuals are scaled by a robust EW mean absolute
 *     residual and also accumulated into a sustained-shift statistic (catches level shifts
 *     and flat lines a point test misses). The surprise is compared with the decayed peak
 *     surprise of the recent past, so only a record-breaking event scores above 0.5: a
 *     series that is always noisy calibrates itself, and a long event alerts once.
 *  2. Range novelty. A value beyond the (slowly forgotten) historical min/max scores above
 *     0.5 by how far it goes, relative to the historical span.
 * The record ratio of a point surprise is damped when point surprises this large have been
 * common lately (a decayed 20-bin histogram: recurring bursts of a spiky series stop alerting),
 * and after an alert scores are halved for a fixed hold-off, so one event alerts once.
 * An anomaly likelihood (short-term average of the internal score against its long-run mean and
 * variance, Gaussian tail in log10) can raise the score when a run of points is unusually
 * surprising for this series although none of them is a record.
 * A relative-entropy test (after Wang et al. 2011) compares the EW histogram of the last ~30 values
 * (7 bins over the recent min/max range) with up to 4 remembered histograms; when none of them
 * explains it (2·W·KL ≥ 80) the shape of the distribution has changed and the point scores 0.65.
 */
export const SEASONAL_DETECTOR_TYPE = 'seasonal';

export interface SeasonalDetectorConfig {
  /** Points before any score is emitted (the baseline is still learning). */
  warmup: number;
  /** EWMA factor of the level. */
  levelAlpha: number;
  /** Learning rate of the hour-of-day offsets. */
  seasonAlpha: number;
  /** Learning rate of the day-of-week offsets. */
  weekAlpha: number;
  /** EWMA factor of the mean absolute residual (the scale). */
  scaleAlpha: number;
  /** Residuals are clipped at this many scales before learning, so spikes don't drag the baseline. */
  clip: number;
  /** EWMA factor of the signed residual used to spot sustained shifts. */
  shiftAlpha: number;
  /** Per-point decay of the recent peak surprise that a point must beat to score above 0.5. */
  peakDecay: number;
  /** Floor of the peak surprise, log1p(σ): Gaussian noise alone should not set records. */
  minPeak: number;
  /** Per-point pull of the historical min/max towards the level (forgets old extremes slowly). */
  rangeDecay: number;
  /** Excess beyond the range (in spans) ignored, so noise nudging the extremes stays quiet. */
  rangeMargin: number;
  /** Range excess (in spans) that maps to a score of 0.75. */
  rangeHalf: number;
  /** Per-point forgetting of the surprise histogram used for rarity (0 = rarity off). */
  rarityAlpha: number;
  /** Exponent of the rarity factor applied to the record ratio. */
  rarityPower: number;
  /** Rarity (0..1, log-scale tail probability) at and above which the record ratio is not damped. */
  rarityKnee: number;
  /** Score at which the detector considers it has alerted (starts the hold-off). */
  alertLevel: number;
  /** Points after an alert during which scores are damped, so one event alerts once (0 = off). */
  holdoff: number;
  /** Factor applied to scores during the hold-off. */
  holdoffFactor: number;
  /** EWMA factor of the short-term average of the internal score fed to the likelihood (0 = likelihood off). */
  likelihoodShort: number;
  /** EWMA factor of the long-run mean/variance of that short-term average. */
  likelihoodLong: number;
  /** -log10 of the Gaussian tail probability that maps to a score of 0.6. */
  likelihoodDigits: number;
  /** Floor of the long-run standard deviation of the short-term average (score units, 0..1). */
  likelihoodMinStd: number;
  /** Relative entropy: EW window (points) of the recent value histogram (0 = off). */
  entropyWindow: number;
  /** Relative entropy: number of bins (values over the recent min/max range, or residual z). */
  entropyBins: number;
  /** Relative entropy: at most this many remembered "normal" histograms (least recently used is replaced). */
  entropyHypotheses: number;
  /** Relative entropy: 2·W·KL above which a hypothesis is rejected (chi-squared critical value). */
  entropyCritical: number;
  /** Relative entropy: score when every remembered histogram is rejected. */
  entropyScore: number;
  /** Relative entropy: 0 = bin the value over the recent range, 1 = bin the residual z in [-3, 3]. */
  entropyInput: number;
  /** Unit used in explanations, e.g. "ms". */
  unit: string;
}

export const defaultSeasonalDetectorConfig: SeasonalDetectorConfig = {
  warmup: 150,
  levelAlpha: 0.05,
  seasonAlpha: 0.05,
  weekAlpha: 0.01,
  scaleAlpha: 0.01,
  clip: 4,
  shiftAlpha: 0.2,
  peakDecay: 0.9995,
  minPeak: Math.log1p(8),
  rangeDecay: 0.99995,
  rangeMargin: 0,
  rangeHalf: 1,
  rarityAlpha: 0.0001,
  rarityPower: 1,
  rarityKnee: 0.65,
  alertLevel: 0.6,
  holdoff: 50,
  holdoffFactor: 0.5,
  likelihoodShort: 0.3,
  likelihoodLong: 0.005,
  likelihoodDigits: 5,
  likelihoodMinStd: 0.02,
  entropyWindow: 30,
  entropyBins: 7,
  entropyHypotheses: 4,
  entropyCritical: 80,
  entropyScore: 0.65,
  entropyInput: 0,
  unit: '',
};

export function validateSeasonalDetectorConfig(c: SeasonalDetectorConfig): ConfigIssue[] {
  const v = new IssueCollector();
  v.nonNegativeInt('warmup', c.warmup);
  for (const key of ['levelAlpha', 'seasonAlpha', 'weekAlpha', 'scaleAlpha', 'shiftAlpha'] as const) v.inRange(key, c[key], 0, 1, key === 'weekAlpha' || key === 'seasonAlpha');
  for (const key of ['peakDecay', 'rangeDecay'] as const) v.inRange(key, c[key], 0, 1);
  v.positive('clip', c.clip);
  v.positive('rangeHalf', c.rangeHalf);
  v.inRange('rarityAlpha', c.rarityAlpha, 0, 1, true);
  v.positive('rarityPower', c.rarityPower);
  v.inRange('rarityKnee', c.rarityKnee, 0, 1);
  v.inRange('alertLevel', c.alertLevel, 0, 1);
  v.nonNegativeInt('holdoff', c.holdoff);
  v.inRange('holdoffFactor', c.holdoffFactor, 0, 1, true);
  v.inRange('likelihoodShort', c.likelihoodShort, 0, 1, true);
  v.inRange('likelihoodLong', c.likelihoodLong, 0, 1);
  v.positive('likelihoodDigits', c.likelihoodDigits);
  v.positive('likelihoodMinStd', c.likelihoodMinStd);
  if (!Number.isFinite(c.rangeMargin) || c.rangeMargin < 0) v.add('rangeMargin', 'must be a non-negative number');
  if (!Number.isFinite(c.minPeak) || c.minPeak < 0) v.add('minPeak', 'must be a non-negative number');
  v.nonNegativeInt('entropyWindow', c.entropyWindow);
  if (!Number.isInteger(c.entropyBins) || c.entropyBins < 2 || c.entropyBins > 16) v.add('entropyBins', 'must be an integer in [2, 16]');
  if (!Number.isInteger(c.entropyHypotheses) || c.entropyHypotheses < 1 || c.entropyHypotheses > 8) v.add('entropyHypotheses', 'must be an integer in [1, 8]');
  v.positive('entropyCritical', c.entropyCritical);
  v.inRange('entropyScore', c.entropyScore, 0, 1, true);
  if (c.entropyInput !== 0 && c.entropyInput !== 1) v.add('entropyInput', 'must be 0 (value) or 1 (residual)');
  if (typeof c.unit !== 'string') v.add('unit', 'must be a string');
  return v.issues;
}

export interface SeasonalDetectorState {
  n: number;
  level: number;
  scale: number;
  daily: number[];
  weekly: number[];
  shift: number;
  peak: number;
  lo: number;
  hi: number;
  /** Points left in the post-alert hold-off (absent in older snapshots = 0). */
  quiet?: number;
  /** Decayed counts of past surprises per bin (absent in older snapshots). */
  hist?: number[];
  /** Likelihood: short-term average, long-run mean and variance of it (absent in older snapshots). */
  lik?: [number, number, number];
  /** Relative entropy: current EW histogram (absent in older snapshots or when off). */
  reCur?: number[];
  /** Relative entropy: remembered histograms, rounded to 1e-4, concatenated (entropyBins numbers each). */
  reHyp?: number[];
  /** Relative entropy: point count at which each remembered histogram last explained the data. */
  reUsed?: number[];
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
/** Points before the peak surprise starts being tracked (the scale is meaningless before). */
const PEAK_START = 30;
/** Surprise histogram: bins of width HIST_WIDTH in log1p(σ), the last one open-ended. */
const HIST_BINS = 20;
const HIST_WIDTH = 0.2;

export class SeasonalDetector implements StreamingDetector<SeasonalDetectorState> {
  private n = 0;
  private level = 0;
  private scale = 0;
  private readonly daily = new Float64Array(24);
  private readonly weekly = new Float64Array(7);
  private shift = 0;
  private peak = 0;
  private lo = 0;
  private hi = 0;
  private quiet = 0;
  private readonly hist = new Float64Array(HIST_BINS);
  private likShort = 0;
  private likMean = 0;
  private likVar = 0;
  private reCur: Float64Array;
  private reHyp: number[][] = [];
  private reUsed: number[] = [];
  /** Relative-entropy score of the last point, for diagnostics. */
  lastEntropy = 0;
  // Last point, kept only for explain().
  private lastT = 0;
  private lastX = 0;
  private lastExpected = 0;
  private lastZ = 0;
  private lastShiftZ = 0;
  private lastRange = 0;
  private lastLo = 0;
  private lastHi = 0;
  private lastScore = 0;
  /** Likelihood score of the last point (0..1, 0.6 = tail probability 10^-likelihoodDigits), for tests and diagnostics. */
  lastLikelihood = 0;

  constructor(
    readonly config: SeasonalDetectorConfig,
    state?: SeasonalDetectorState,
  ) {
    assertValid(SEASONAL_DETECTOR_TYPE, validateSeasonalDetectorConfig(config));
    this.reCur = new Float64Array(config.entropyBins);
    if (state) {
      this.n = state.n;
      this.level = state.level;
      this.scale = state.scale;
      this.daily.set(state.daily);
      this.weekly.set(state.weekly);
      this.shift = state.shift;
      this.peak = state.peak;
      this.lo = state.lo;
      this.hi = state.hi;
      this.quiet = state.quiet ?? 0;
      if (state.hist) this.hist.set(state.hist);
      if (state.lik) [this.likShort, this.likMean, this.likVar] = state.lik;
      const K = config.entropyBins;
      if (state.reCur && state.reHyp && state.reUsed && state.reCur.length === K && state.reHyp.length === K * state.reUsed.length) {
        this.reCur.set(state.reCur);
        for (let i = 0; i < state.reUsed.length; i++) this.reHyp.push(state.reHyp.slice(i * K, (i + 1) * K));
        this.reUsed = state.reUsed.slice(0, config.entropyHypotheses);
        this.reHyp.length = this.reUsed.length;
      }
    }
  }

  update(timestamp: number, value: number): number {
    const c = this.config;
    this.lastT = timestamp;
    this.lastX = value;
    // A gap in the data must not poison the state.
    if (!Number.isFinite(value)) return (this.lastScore = 0);
    if (this.n === 0) {
      this.level = value;
      this.lo = value;
      this.hi = value;
    }
    this.n++;

    // Hour-of-day offset, linearly interpolated between hour centres so 5-minute data follows the curve.
    const dayPos = (((timestamp % DAY) + DAY) % DAY) / HOUR - 0.5;
    const h0 = Math.floor(dayPos);
    const frac = dayPos - h0;
    const i0 = (h0 + 24) % 24;
    const i1 = (h0 + 25) % 24;
    const dow = (((Math.floor(timestamp / DAY) + 4) % 7) + 7) % 7; // 1970-01-01 was a Thursday
    const expected = this.level + this.daily[i0] * (1 - frac) + this.daily[i1] * frac + this.weekly[dow];
    const e = value - expected;
    const s = this.scale > 0 ? this.scale : Math.abs(e) + 1e-9;
    // 1.2533·mean|e| estimates σ for Gaussian noise; the tiny relative floor keeps flat lines finite.
    const z = e / (1.2533 * s + 1e-9 * (Math.abs(expected) + 1));
    const zc = z > 10 ? 10 : z < -10 ? -10 : z;
    this.shift += c.shiftAlpha * (zc - this.shift);
    const shiftZ = Math.abs(this.shift) * Math.sqrt((2 - c.shiftAlpha) / c.shiftAlpha);
    const az = Math.abs(z);
    const surprise = Math.log1p(az > shiftZ ? az : shiftZ);

    let score = 0;
    let range = 0;
    const span = this.hi - this.lo;
    if (span > 0) range = Math.max(value - this.hi, this.lo - value, 0) / span - c.rangeMargin;
    // Rarity: how often the recent past produced a point surprise at least this large. Only point
    // surprises are counted and damped: a sustained shift is judged by the record alone.
    let rarity = 1;
    const ps = Math.log1p(az);
    const hb = Math.min(Math.floor(ps / HIST_WIDTH), HIST_BINS - 1);
    if (c.rarityAlpha > 0 && az >= shiftZ) {
      const h = this.hist;
      let total = 0;
      let tail = 0;
      for (let b = 0; b < HIST_BINS; b++) {
        total += h[b];
        if (b > hb) tail += h[b];
      }
      const frac = hb === HIST_BINS - 1 ? 0 : ps / HIST_WIDTH - hb;
      tail += h[hb] * (1 - frac);
      rarity = Math.log((total + 1) / (tail + 1)) / Math.log(total + 1 + 1e-12);
      if (!(rarity > 0)) rarity = 0;
      rarity = rarity >= c.rarityKnee ? 1 : Math.pow(rarity / c.rarityKnee, c.rarityPower);
    }
    if (this.n > c.warmup) {
      if (this.peak > 0) {
        const r = (rarity * surprise) / (this.peak > c.minPeak ? this.peak : c.minPeak);
        score = r / (1 + r);
      }
      if (range > 0) {
        const rs = 0.5 + (0.5 * range) / (range + c.rangeHalf);
        if (rs > score) score = rs;
      }
    }

    // Anomaly likelihood: is the recent average of the internal score unusually high for this
    // series? Catches a sustained rise in unpredictability that no single point makes a record.
    let likScore = 0;
    if (c.likelihoodShort > 0 && this.n > PEAK_START) {
      const sh = this.likShort + c.likelihoodShort * (score - this.likShort);
      if (this.n > c.warmup) {
        const sd = Math.sqrt(this.likVar);
        const zl = (sh - this.likMean) / (sd > c.likelihoodMinStd ? sd : c.likelihoodMinStd);
        if (zl > 0) {
          const digits = -log10GaussianTail(zl);
          likScore = digits / (digits + c.likelihoodDigits / 1.5);
        }
      }
      // Learn after scoring.
      this.likShort = sh;
      const k = this.n - PEAK_START;
      const a = k < 1 / c.likelihoodLong ? 1 / k : c.likelihoodLong;
      const d = sh - this.likMean;
      this.likMean += a * d;
      this.likVar += a * (d * (sh - this.likMean) - this.likVar);
    }

    // Relative entropy (Wang et al.): the EW histogram of recent values against remembered
    // "normal" histograms; when none of them explains it, the distribution has changed.
    let reScore = 0;
    if (c.entropyWindow > 0) {
      const K = c.entropyBins;
      let pos: number;
      if (c.entropyInput === 1) pos = ((zc < -3 ? -3 : zc > 3 ? 3 : zc) + 3) / 6;
      else pos = span > 0 ? (value - this.lo) / span : 0.5;
      let b = Math.floor(pos * K);
      b = b < 0 ? 0 : b >= K ? K - 1 : b;
      const cur = this.reCur;
      const a = this.n < c.entropyWindow ? 1 / this.n : 1 / c.entropyWindow;
      for (let k = 0; k < K; k++) cur[k] *= 1 - a;
      cur[b] += a;
      if (this.n >= c.entropyWindow && this.n > c.warmup) {
        const floor = 0.5 / c.entropyWindow;
        let best = -1;
        let bestStat = Infinity;
        for (let i = 0; i < this.reHyp.length; i++) {
          const h = this.reHyp[i];
          let kl = 0;
          for (let k = 0; k < K; k++) if (cur[k] > 1e-9) kl += cur[k] * Math.log(cur[k] / (h[k] > floor ? h[k] : floor));
          const stat = 2 * c.entropyWindow * kl;
          if (stat < bestStat) {
            bestStat = stat;
            best = i;
          }
        }
        if (best >= 0 && bestStat < c.entropyCritical) this.reUsed[best] = this.n;
        else {
          if (best >= 0) reScore = c.entropyScore;
          const h = Array.from(cur, (x) => Math.round(x * 1e4) / 1e4);
          if (this.reHyp.length < c.entropyHypotheses) {
            this.reHyp.push(h);
            this.reUsed.push(this.n);
          } else {
            let lru = 0;
            for (let i = 1; i < this.reUsed.length; i++) if (this.reUsed[i] < this.reUsed[lru]) lru = i;
            this.reHyp[lru] = h;
            this.reUsed[lru] = this.n;
          }
        }
      }
    }
    this.lastEntropy = reScore;

    // Learn after scoring: no look-ahead.
    if (this.n > PEAK_START) {
      const decayed = this.peak * c.peakDecay;
      this.peak = surprise > decayed ? surprise : decayed;
    }
    if (c.rarityAlpha > 0 && this.n > PEAK_START) {
      const keep = 1 - c.rarityAlpha;
      const h = this.hist;
      for (let b = 0; b < HIST_BINS; b++) h[b] *= keep;
      h[hb] += 1;
    }
    this.lastLo = this.lo;
    this.lastHi = this.hi;
    if (value > this.hi) this.hi = value;
    if (value < this.lo) this.lo = value;
    this.hi = this.level + (this.hi - this.level) * c.rangeDecay;
    this.lo = this.level + (this.lo - this.level) * c.rangeDecay;

    const lim = c.clip * s;
    const ec = e > lim ? lim : e < -lim ? -lim : e;
    const warm = this.n < 1 / c.scaleAlpha ? 1 / this.n : c.scaleAlpha;
    this.scale += warm * (Math.abs(ec) - this.scale);
    this.level += c.levelAlpha * ec;
    this.daily[i0] += c.seasonAlpha * (1 - frac) * ec;
    this.daily[i1] += c.seasonAlpha * frac * ec;
    this.weekly[dow] += c.weekAlpha * ec;

    this.lastExpected = expected;
    this.lastZ = z;
    this.lastShiftZ = this.shift < 0 ? -shiftZ : shiftZ;
    this.lastRange = range;
    score = stretch(score);
    this.lastLikelihood = likScore;
    if (likScore > score) score = likScore;
    if (reScore > score) score = reScore;
    if (this.quiet > 0) {
      this.quiet--;
      score *= c.holdoffFactor;
    } else if (score >= c.alertLevel && c.holdoff > 0) this.quiet = c.holdoff;
    this.lastScore = score;
    return score;
  }

  explain(): string {
    const u = this.config.unit ? ` ${this.config.unit}` : '';
    const x = `${formatNumber(this.lastX)}${u}`;
    if (!Number.isFinite(this.lastX)) return 'value is missing or not a number';
    if (this.n <= this.config.warmup) return `learning the baseline (${this.n}/${this.config.warmup} points)`;
    const d = new Date(this.lastT);
    const when = `${DAYS[d.getUTCDay()]} ${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}`;
    let text: string;
    if (Math.abs(this.lastShiftZ) > Math.abs(this.lastZ)) {
      const dir = this.lastShiftZ >= 0 ? 'above' : 'below';
      text = `value ${x}: the series has stayed ${dir} its expected level for several points (shift ${Math.abs(this.lastShiftZ).toFixed(1)}σ; expected ${formatNumber(this.lastExpected)}${u} for ${when})`;
    } else {
      const dir = this.lastZ >= 0 ? 'above' : 'below';
      text = `value ${x} is ${Math.abs(this.lastZ).toFixed(1)}σ ${dir} the expected ${formatNumber(this.lastExpected)}${u} for ${when}`;
    }
    if (this.lastRange > 0) {
      const above = this.lastX > this.lastHi;
      const edge = above ? this.lastHi : this.lastLo;
      text += `, and ${above ? 'above the highest' : 'below the lowest'} value seen recently (${formatNumber(edge)}${u}) by ${(this.lastRange * 100).toFixed(0)}% of the usual range`;
    }
    if (this.lastEntropy > 0) text += `; the mix of the last ~${this.config.entropyWindow} values matches none of the ${this.reHyp.length} patterns seen recently`;
    return `${text} (score ${this.lastScore.toFixed(2)})`;
  }

  snapshot(): SeasonalDetectorState {
    return {
      n: this.n,
      level: this.level,
      scale: this.scale,
      daily: Array.from(this.daily),
      weekly: Array.from(this.weekly),
      shift: this.shift,
      peak: this.peak,
      lo: this.lo,
      hi: this.hi,
      quiet: this.quiet,
      hist: Array.from(this.hist),
      ...(this.config.entropyWindow > 0 ? { reCur: Array.from(this.reCur), reHyp: this.reHyp.flat(), reUsed: this.reUsed.slice() } : {}),
      ...(this.config.likelihoodShort > 0 ? { lik: [this.likShort, this.likMean, this.likVar] as [number, number, number] } : {}),
    };
  }
}

/**
 * Monotone stretch of the internal score r/(1+r) (r = surprise relative to the recent
 * record): r = 1 stays 0.5, r = 1.5 becomes 0.85. Ranking is unchanged; alert thresholds
 * just land in a readable range (the NAB-optimal one is ~0.6).
 */
function stretch(s: number): number {
  if (s <= 0) return 0;
  if (s >= 1) return 1;
  const r = s / (1 - s);
  return r >= 1 ? 1 - 0.5 / (r * r * r) : 0.5 * r * r * r;
}

/** log10 of the upper Gaussian tail probability Q(x), x ≥ 0 (erfc approximation, relative error < 1.2e-7). */
export function log10GaussianTail(x: number): number {
  const z = x / Math.SQRT2;
  const t = 1 / (1 + 0.5 * z);
  const p =
    -z * z -
    1.26551223 +
    t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  // Q(x) = erfc(z)/2 = t·e^p/2
  return (Math.log(0.5 * t) + p) / Math.LN10;
}

export function createSeasonalDetector(config: Partial<SeasonalDetectorConfig> = {}, state?: SeasonalDetectorState): SeasonalDetector {
  return new SeasonalDetector({ ...defaultSeasonalDetectorConfig, ...config }, state);
}
