import { compareWindows, createDriftMonitor, defaultDriftConfig, kolmogorovSmirnov, kolmogorovTail, populationStabilityIndex, validateDriftConfig } from './drift-detector';
import { seededGaussian } from '../common/synthetic';

const sample = (n: number, seed: number, mean = 0, sd = 1): number[] => {
  const g = seededGaussian(seed);
  return Array.from({ length: n }, () => mean + sd * g());
};

describe('drift', () => {
  it('finds no drift between two samples of the same distribution', () => {
    const r = compareWindows(sample(2000, 1), sample(1000, 2));
    expect(r.drifted).toBe(false);
    expect(r.psi).toBeLessThan(0.05);
    expect(r.ks.pValue).toBeGreaterThan(0.05);
  });

  it('flags a shifted distribution by PSI and by KS', () => {
    const r = compareWindows(sample(2000, 3), sample(1000, 4, 0.5));
    expect(r.drifted).toBe(true);
    expect(r.psi).toBeGreaterThan(0.2);
    expect(r.ks.pValue).toBeLessThan(1e-6);
    expect(r.explanation).toMatch(/^drift: PSI/);
  });

  it('flags a change of spread that leaves the mean alone', () => {
    const r = compareWindows(sample(2000, 5), sample(1000, 6, 0, 2));
    expect(r.drifted).toBe(true);
  });

  it('computes PSI and KS exactly on small known inputs', () => {
    // Identical windows: no instability and no evidence.
    expect(populationStabilityIndex([1, 2, 3, 4], [1, 2, 3, 4], 2)).toBeCloseTo(0, 12);
    // Two bins split at 3: reference 50/50, current 25/75 -> (0.25-0.5)ln(0.5) + (0.75-0.5)ln(1.5).
    expect(populationStabilityIndex([1, 2, 3, 4], [1, 3, 4, 5], 2)).toBeCloseTo(-0.25 * Math.log(0.5) + 0.25 * Math.log(1.5), 10);
    expect(kolmogorovSmirnov([1, 2, 3], [4, 5, 6]).statistic).toBe(1);
    expect(kolmogorovSmirnov([1, 2, 3, 4], [1, 2, 3, 4]).statistic).toBe(0);
    // Kolmogorov distribution: Q(1.36) ≈ 0.049, the classic 5% critical value.
    expect(kolmogorovTail(1.36)).toBeCloseTo(0.049, 3);
  });

  it('monitors a stream and resumes from a JSON checkpoint with identical results', () => {
    const xs = [...sample(1000, 7), ...sample(300, 8), ...sample(400, 9, 1)];
    const straight = createDriftMonitor();
    xs.forEach((x) => straight.update(x));
    const first = createDriftMonitor();
    xs.slice(0, 1200).forEach((x) => first.update(x));
    expect(first.check()).toBeNull(); // current window not full yet
    const resumed = createDriftMonitor({}, JSON.parse(JSON.stringify(first.snapshot())));
    xs.slice(1200).forEach((x) => resumed.update(x));
    expect(resumed.check()).toEqual(straight.check());
    expect(straight.check()?.drifted).toBe(true);
  });

  it('reports every config problem with its path', () => {
    expect(validateDriftConfig(defaultDriftConfig)).toEqual([]);
    const issues = validateDriftConfig({ ...defaultDriftConfig, bins: 1, alpha: 2, currentSize: 0 });
    expect(issues.map((i) => i.path).sort()).toEqual(['alpha', 'bins', 'currentSize']);
  });
});
