import { forecastAccuracy } from './forecast-accuracy';
import { seededGaussian } from '../common/synthetic';

describe('forecast accuracy', () => {
  it('beats the naive forecast on a seasonal series and is exact on a straight line', () => {
    const g = seededGaussian(21);
    const seasonal = Array.from({ length: 2000 }, (_, i) => 100 + 30 * Math.sin((2 * Math.PI * i) / 24) + g());
    const acc = forecastAccuracy(seasonal, 6, 700, { candidatePeriods: [24], detectAfter: 600 });
    expect(acc.points).toBe(2000 - 6 - 700);
    expect(acc.mase).toBeLessThan(0.3);
    expect(acc.smape).toBeLessThan(acc.naiveSmape / 3);
    expect(acc.coverage95).toBeGreaterThan(0.85);

    const line = Array.from({ length: 300 }, (_, i) => 10 + 2 * i);
    expect(forecastAccuracy(line, 5, 200, { beta: 0.5 }).smape).toBeLessThan(0.5);
  });

  it('gives a random walk a MASE near 1 (nothing beats "it stays where it is")', () => {
    const g = seededGaussian(5);
    let v = 1000;
    const walk = Array.from({ length: 3000 }, () => (v += g()));
    const acc = forecastAccuracy(walk, 10, 100);
    expect(acc.mase).toBeGreaterThan(0.9);
    expect(acc.mase).toBeLessThan(1.3);
  });
});
