import { choosePeriod, createHoltWintersForecaster, defaultHoltWintersConfig, validateHoltWintersConfig } from './holt-winters-forecaster';
import { seededGaussian } from '../common/synthetic';

describe('Holt-Winters forecaster', () => {
  it('forecasts a known linear trend inside its 95% interval and says when it crosses a threshold', () => {
    const g = seededGaussian(1);
    const f = createHoltWintersForecaster();
    const truth = (t: number): number => 10 + 0.5 * t;
    for (let t = 0; t < 1000; t++) f.update(truth(t) + g());
    expect(f.seasonLength).toBe(0);
    const fc = f.forecast(100);
    for (const p of [fc[0], fc[49], fc[99]]) {
      const actual = truth(999 + p.step);
      expect(actual).toBeGreaterThan(p.lower);
      expect(actual).toBeLessThan(p.upper);
      expect(p.upper - p.lower).toBeLessThan(20);
    }
    // The interval widens with the horizon.
    expect(fc[99].upper - fc[99].lower).toBeGreaterThan(fc[0].upper - fc[0].lower);
    // 10 + 0.5t reaches 600 at t = 1180: 181 steps after the last point (t = 999).
    const crossing = f.whenCrosses(600, 300, 0.9);
    expect(crossing.expectedStep).toBeGreaterThanOrEqual(176);
    expect(crossing.expectedStep).toBeLessThanOrEqual(186);
    expect(crossing.confidentStep).toBeGreaterThan(crossing.expectedStep ?? 0);
    expect(crossing.probability[0]).toBeLessThan(0.01);
    expect(crossing.probability[299]).toBeGreaterThan(0.99);
  });

  it('chooses the season from the data and forecasts the next cycle', () => {
    const g = seededGaussian(2);
    const f = createHoltWintersForecaster();
    const truth = (t: number): number => 100 + 30 * Math.sin((2 * Math.PI * t) / 24);
    for (let t = 0; t < 24 * 40; t++) f.update(truth(t) + 2 * g());
    expect(f.seasonLength).toBe(24);
    const fc = f.forecast(24);
    const covered = fc.filter((p) => truth(24 * 40 - 1 + p.step) > p.lower && truth(24 * 40 - 1 + p.step) < p.upper).length;
    expect(covered).toBeGreaterThanOrEqual(22);
    const maxErr = Math.max(...fc.map((p) => Math.abs(p.mean - truth(24 * 40 - 1 + p.step))));
    expect(maxErr).toBeLessThan(4);
  });

  it('finds no season in white noise', () => {
    const g = seededGaussian(3);
    expect(choosePeriod(Array.from({ length: 600 }, () => g()), [24, 48, 168], 0.3)).toBe(0);
  });

  it('resumes from a JSON checkpoint with identical forecasts', () => {
    const g = seededGaussian(4);
    const xs = Array.from({ length: 1500 }, (_, t) => 50 + 0.1 * t + 10 * Math.sin((2 * Math.PI * t) / 48) + g());
    const straight = createHoltWintersForecaster();
    xs.forEach((x) => straight.update(x));
    for (const cut of [300, 900]) {
      const first = createHoltWintersForecaster();
      xs.slice(0, cut).forEach((x) => first.update(x));
      const resumed = createHoltWintersForecaster({}, JSON.parse(JSON.stringify(first.snapshot())));
      xs.slice(cut).forEach((x) => resumed.update(x));
      expect(resumed.forecast(48)).toEqual(straight.forecast(48));
    }
  });

  it('reports every config problem with its path', () => {
    expect(validateHoltWintersConfig(defaultHoltWintersConfig)).toEqual([]);
    const issues = validateHoltWintersConfig({ ...defaultHoltWintersConfig, alpha: 0, candidatePeriods: [24, -1], detectAfter: 40 });
    expect(issues.map((i) => i.path).sort()).toEqual(['alpha', 'candidatePeriods.1', 'detectAfter']);
  });
});
