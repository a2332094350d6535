import { HoltWintersConfig, createHoltWintersForecaster } from './holt-winters-forecaster';

/**
 * Out-of-sample accuracy of the streaming Holt-Winters forecaster at a fixed horizon h: at every
 * point t (after `skip`), the forecast made with the points up to t is compared with the value at
 * t + h, before the model has seen it. Both figures are the M4 competition's definitions:
 *  - sMAPE = mean of 200·|F − A| / (|F| + |A|) (0 when both are 0), in percent;
 *  - MASE = mean |F − A| / mean |A_t+h − A_t| over the same points, i.e. scaled by the error of the
 *    naive "it stays where it is now" forecast at the same horizon (< 1: better than naive).
 */
export interface ForecastAccuracy {
  horizon: number;
  /** Forecasts scored. */
  points: number;
  smape: number;
  mase: number;
  /** sMAPE of the naive forecast, for comparison. */
  naiveSmape: number;
  /** Share of actual values inside the central 95 % interval. */
  coverage95: number;
}

export interface AccuracySums {
  points: number;
  smape: number;
  absError: number;
  naiveAbsError: number;
  naiveSmape: number;
  covered: number;
}

export function emptyAccuracySums(): AccuracySums {
  return { points: 0, smape: 0, absError: 0, naiveAbsError: 0, naiveSmape: 0, covered: 0 };
}

function smapeTerm(f: number, a: number): number {
  const d = Math.abs(f) + Math.abs(a);
  return d === 0 ? 0 : (200 * Math.abs(f - a)) / d;
}

/** Adds one series' errors at horizon `h` to `sums`; `skip` points are left for the model to learn. */
export function accumulateForecastErrors(values: ArrayLike<number>, h: number, skip: number, sums: AccuracySums, config: Partial<HoltWintersConfig> = {}): AccuracySums {
  if (!Number.isInteger(h) || h <= 0) throw new Error('horizon must be a positive integer');
  const model = createHoltWintersForecaster(config);
  for (let t = 0; t + h < values.length; t++) {
    model.update(values[t]);
    if (t < skip) continue;
    const at = model.forecast(h, 0.95)[h - 1];
    const actual = values[t + h];
    if (!Number.isFinite(actual) || !Number.isFinite(values[t])) continue;
    sums.points++;
    sums.smape += smapeTerm(at.mean, actual);
    sums.absError += Math.abs(at.mean - actual);
    sums.naiveAbsError += Math.abs(values[t] - actual);
    sums.naiveSmape += smapeTerm(values[t], actual);
    if (actual >= at.lower && actual <= at.upper) sums.covered++;
  }
  return sums;
}

export function accuracyOf(sums: AccuracySums, horizon: number): ForecastAccuracy {
  const n = Math.max(1, sums.points);
  return {
    horizon,
    points: sums.points,
    smape: sums.smape / n,
    mase: sums.naiveAbsError > 0 ? sums.absError / sums.naiveAbsError : Number.NaN,
    naiveSmape: sums.naiveSmape / n,
    coverage95: sums.covered / n,
  };
}

export function forecastAccuracy(values: ArrayLike<number>, horizon: number, skip = 0, config: Partial<HoltWintersConfig> = {}): ForecastAccuracy {
  return accuracyOf(accumulateForecastErrors(values, horizon, skip, emptyAccuracySums(), config), horizon);
}
