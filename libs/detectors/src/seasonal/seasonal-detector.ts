import { ConfigIssue, IssueCollector, assertValid } from '../common/validation';
import { StreamingDetector, formatNumber, normalTail } from '../common/streaming';

export const SEASONAL_DETECTOR_TYPE = 'seasonal';

export interface SeasonalDetectorConfig {
  /** Points before any score is emitted (the baseline is still learning). */
  warmup: number;
  /** EWMA factor of the level. */
  levelAlpha: number;
  /** Learning rate of hour-of-day and day-of-week offsets. */
  seasonAlpha: number;
  weekAlpha: number;
  /** EWMA factor of the mean absolute residual (the scale). */
  scaleAlpha: number;
  /** Residuals are clipped at this many scales before updating, so spikes don't drag the baseline. */
  clip: number;
  /** Short and long memories of the surprise signal (anomaly-likelihood style). */
  shortAlpha: number;
  longAlpha: number;
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
  shortAlpha: 0.3,
  longAlpha: 0.002,
  unit: '',
};

export function validateSeasonalDetectorConfig(c: SeasonalDetectorConfig): ConfigIssue[] {
  const v = new IssueCollector();
  v.nonNegativeInt('warmup', c.warmup);
  for (const key of ['levelAlpha', 'seasonAlpha', 'weekAlpha', 'scaleAlpha', 'shortAlpha', 'longAlpha'] as const) v.inRange(key, c[key], 0, 1);
  v.positive('clip', c.clip);
  if (typeof c.unit !== 'string') v.add('unit', 'must be a string');
  return v.issues;
}

export interface SeasonalDetectorState {
  n: number;
  level: number;
  scale: number;
  daily: number[];
  weekly: number[];
  short: number;
  mean: number;
  variance: number;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

export class SeasonalDetector implements StreamingDetector<SeasonalDetectorState> {
  private n = 0;
  private level = 0;
  private scale = 0;
  private readonly daily = new Float64Array(24);
  private readonly weekly = new Float64Array(7);
  private short = 0;
  private mean = 0;
  private variance = 0;
  // Last point, kept only for explain().
  private lastT = 0;
  private lastX = 0;
  private lastExpected = 0;
  private lastZ = 0;
  private lastScore = 0;

  constructor(
    readonly config: SeasonalDetectorConfig,
    state?: SeasonalDetectorState,
  ) {
    assertValid(SEASONAL_DETECTOR_TYPE, validateSeasonalDetectorConfig(config));
    if (state) {
      this.n = state.n;
      this.level = state.level;
      this.scale = state.scale;
      this.daily.set(state.daily);
      this.weekly.set(state.weekly);
      this.short = state.short;
      this.mean = state.mean;
      this.variance = state.variance;
    }
  }

  update(timestamp: number, value: number): number {
    const c = this.config;
    this.lastT = timestamp;
    this.lastX = value;
    if (!Number.isFinite(value)) return (this.lastScore = 0);
    if (this.n === 0) {
      this.level = value;
      this.scale = 0;
    }
    this.n++;
    // Hour-of-day offset, linearly interpolated between hour centres so 5-minute data follows the curve.
    const dayPos = ((((timestamp % DAY) + DAY) % DAY) / HOUR) - 0.5;
    const h0 = Math.floor(dayPos);
    const frac = dayPos - h0;
    const i0 = (h0 + 24) % 24;
    const i1 = (h0 + 25) % 24;
    const dow = (Math.floor(timestamp / DAY) + 4) % 7; // 1970-01-01 was a Thursday
    const wd = dow < 0 ? dow + 7 : dow;
    const seasonal = this.daily[i0] * (1 - frac) + this.daily[i1] * frac + this.weekly[wd];
    const expected = this.level + seasonal;
    const e = value - expected;
    const s = this.scale > 0 ? this.scale : Math.abs(e) + 1e-9;
    const z = Math.abs(e) / (1.2533 * s + 1e-9 * (Math.abs(expected) + 1));
    const raw = Math.log1p(z);
    this.short += c.shortAlpha * (raw - this.short);

    let score = 0;
    if (this.n > c.warmup) {
      const sd = Math.sqrt(this.variance) + 1e-6;
      score = 1 - normalTail((this.short - this.mean) / sd);
    }
    // Learn after scoring: no look-ahead.
    const dev = raw - this.mean;
    const la = this.n < 1 / c.longAlpha ? 1 / this.n : c.longAlpha;
    this.mean += la * dev;
    this.variance += la * (dev * dev - this.variance);

    const lim = c.clip * s;
    const ec = e > lim ? lim : e < -lim ? -lim : e;
    const warm = this.n < 1 / c.scaleAlpha ? 1 / this.n : c.scaleAlpha;
    this.scale += warm * (Math.abs(ec) - this.scale);
    this.level += c.levelAlpha * ec;
    this.daily[i0] += c.seasonAlpha * (1 - frac) * ec;
    this.daily[i1] += c.seasonAlpha * frac * ec;
    this.weekly[wd] += c.weekAlpha * ec;

    this.lastExpected = expected;
    this.lastZ = e / (1.2533 * s + 1e-12);
    this.lastScore = score;
    return score;
  }

  explain(): string {
    const u = this.config.unit ? ` ${this.config.unit}` : '';
    const d = new Date(this.lastT);
    const when = `${DAYS[d.getUTCDay()]} ${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}`;
    if (this.n <= this.config.warmup) return `learning (${this.n}/${this.config.warmup} points)`;
    const dir = this.lastZ >= 0 ? 'above' : 'below';
    return `value ${formatNumber(this.lastX)}${u} is ${Math.abs(this.lastZ).toFixed(1)}σ ${dir} the expected ${formatNumber(this.lastExpected)}${u} for ${when} (score ${this.lastScore.toFixed(2)})`;
  }

  snapshot(): SeasonalDetectorState {
    return {
      n: this.n,
      level: this.level,
      scale: this.scale,
      daily: Array.from(this.daily),
      weekly: Array.from(this.weekly),
      short: this.short,
      mean: this.mean,
      variance: this.variance,
    };
  }
}

export function createSeasonalDetector(config: Partial<SeasonalDetectorConfig> = {}, state?: SeasonalDetectorState): SeasonalDetector {
  return new SeasonalDetector({ ...defaultSeasonalDetectorConfig, ...config }, state);
}
