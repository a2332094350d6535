import { averagePathLength, createIsolationForest, defaultIsolationForestConfig, validateIsolationForestConfig } from './isolation-forest';
import { seededGaussian } from '../common/synthetic';

describe('isolation forest', () => {
  const cluster = (n: number, seed: number, cx = 0, cy = 0): number[][] => {
    const g = seededGaussian(seed);
    return Array.from({ length: n }, () => [cx + g(), cy + g()]);
  };

  it('matches the paper normaliser c(n)', () => {
    expect(averagePathLength(256)).toBeCloseTo(10.244, 2);
    expect(averagePathLength(2)).toBe(1);
  });

  it('scores a far multivariate outlier high and cluster points low', () => {
    const forest = createIsolationForest({ dimensions: 2 });
    for (const p of cluster(1000, 1)) forest.update(p);
    expect(forest.score([6, -6])).toBeGreaterThan(0.7);
    const inliers = cluster(200, 2).map((p) => forest.score(p));
    expect(inliers.reduce((a, b) => a + b, 0) / inliers.length).toBeLessThan(0.5);
    // An outlier in the joint space only: each coordinate alone is ordinary for a correlated cluster.
    const g = seededGaussian(3);
    const corr = createIsolationForest({ dimensions: 2 });
    for (let i = 0; i < 1000; i++) {
      const x = 3 * g();
      corr.update([x, x + 0.1 * g()]);
    }
    expect(corr.score([3, -3])).toBeGreaterThan(corr.score([3, 3]) + 0.05);
  });

  it('returns 0.5 before it has a sample to train on', () => {
    const forest = createIsolationForest({ dimensions: 2, sampleSize: 64 });
    expect(forest.update([1, 1])).toBe(0.5);
    expect(forest.trained).toBe(false);
  });

  it('forgets old behaviour as the sliding window moves on', () => {
    const forest = createIsolationForest({ dimensions: 2, windowSize: 512, retrainEvery: 128 });
    for (const p of cluster(600, 4, 0, 0)) forest.update(p);
    const before = forest.score([20, 20]);
    for (const p of cluster(800, 5, 20, 20)) forest.update(p);
    expect(before).toBeGreaterThan(0.7);
    expect(forest.score([20, 20])).toBeLessThan(0.5);
    expect(forest.score([0, 0])).toBeGreaterThan(0.7);
  });

  it('resumes from a JSON checkpoint with identical scores', () => {
    const points = [...cluster(900, 6), [8, 8], ...cluster(300, 7)];
    const straight = createIsolationForest({ retrainEvery: 100 });
    const expected = points.map((p) => straight.update(p));
    const first = createIsolationForest({ retrainEvery: 100 });
    const head = points.slice(0, 650).map((p) => first.update(p));
    const resumed = createIsolationForest({ retrainEvery: 100 }, JSON.parse(JSON.stringify(first.snapshot())));
    const tail = points.slice(650).map((p) => resumed.update(p));
    expect([...head, ...tail]).toEqual(expected);
  });

  it('attributes an outlier to the dimension that isolates it', () => {
    const g = seededGaussian(8);
    const forest = createIsolationForest({ dimensions: 3 });
    for (let i = 0; i < 1000; i++) forest.update([g(), 10 + g(), 100 + g()]);
    const c = forest.contributions([0, 10, 112]);
    expect(c.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
    expect(c[2]).toBeGreaterThan(0.5);
    expect(c[2]).toBeGreaterThan(c[0] + c[1]);
    expect(createIsolationForest({ dimensions: 2 }).contributions([1, 1])).toEqual([0, 0]);
  });

  it('reports every config problem with its path', () => {
    expect(validateIsolationForestConfig(defaultIsolationForestConfig)).toEqual([]);
    const issues = validateIsolationForestConfig({ ...defaultIsolationForestConfig, trees: 0, sampleSize: 4096, dimensions: 1.5 });
    expect(issues.map((i) => i.path).sort()).toEqual(['dimensions', 'sampleSize', 'trees']);
    expect(() => createIsolationForest({ dimensions: 2 }).update([1, 2, 3])).toThrow(/dimensions/);
  });
});
