import {
  createSeasonalDetector,
  validateSeasonalDetectorConfig,
  defaultSeasonalDetectorConfig,
  log10GaussianTail,
  SeasonalDetector,
} from './seasonal-detector';
import { MONDAY, seededGaussian } from '../common/synthetic';

const HOUR = 3_600_000;
const STEP = 15 * 60_000; // 15-minute points: 96 a day

/** Daily + weekly seasonal latency-like series (ms) with Gaussian noise. */
function seasonal(i: number, noise: () => number): number {
  const t = MONDAY + i * STEP;
  const hour = ((t / HOUR) % 24) + 0;
  const day = Math.floor((t - MONDAY) / (24 * HOUR)) % 7;
  const weekend = day >= 5 ? -15 : 0;
  return 120 + 40 * Math.sin((2 * Math.PI * (hour - 8)) / 24) + weekend + 4 * noise();
}

function run(detector: SeasonalDetector, values: number[]): number[] {
  return values.map((v, i) => detector.update(MONDAY + i * STEP, v));
}

// Alert level: the NAB corpus-optimal threshold is ~0.6.
const ALERT = 0.7;
const weeks = (w: number): number => w * 7 * 96;

describe('seasonal detector', () => {
  it('stays quiet on a daily + weekly seasonal pattern with no anomaly once a week is learned', () => {
    const noise = seededGaussian(1);
    const values = Array.from({ length: weeks(5) }, (_, i) => seasonal(i, noise));
    const scores = run(createSeasonalDetector(), values);
    const after = scores.slice(weeks(1));
    expect(Math.max(...after)).toBeLessThan(ALERT);
    for (const s of scores) {
      expect(s).toBeGreaterThanOrEqual(0);
      expect(s).toBeLessThanOrEqual(1);
    }
  });

  it('flags a spike at the spike, with an explanation against the seasonal expectation', () => {
    const noise = seededGaussian(2);
    const values = Array.from({ length: weeks(3) }, (_, i) => seasonal(i, noise));
    const spikeAt = weeks(2) + 8; // Monday 02:00, the daily low
    // 30σ of the noise (the record floor is 8σ of the learned residual scale, which the first
    // weeks' seasonal learning inflates), at the daily low.
    values[spikeAt] += 120;
    const d = createSeasonalDetector({ unit: 'ms' });
    let explanation = '';
    const scores = values.map((v, i) => {
      const s = d.update(MONDAY + i * STEP, v);
      if (i === spikeAt) explanation = d.explain();
      return s;
    });
    expect(scores[spikeAt]).toBeGreaterThan(ALERT);
    const others = scores.filter((_, i) => i >= weeks(1) && i !== spikeAt);
    expect(Math.max(...others)).toBeLessThan(ALERT);
    expect(explanation).toMatch(/^value \d+(\.\d+)? ms is \d+\.\dσ above the expected \d+(\.\d+)? ms for Monday 02:00/);
  });

  it('flags a level shift within a few points as the strongest event, and only once', () => {
    const noise = seededGaussian(3);
    const values = Array.from({ length: 3000 }, (_, i) => 50 + noise() + (i >= 2000 ? 8 : 0));
    const scores = run(createSeasonalDetector(), values);
    const atShift = Math.max(...scores.slice(2000, 2005));
    expect(atShift).toBeGreaterThan(0.9);
    // Noise nudging the learned range can score moderately, never like the shift.
    expect(Math.max(...scores.slice(0, 2000))).toBeLessThan(atShift - 0.1);
    // One event, not a run of alerts for the rest of the series.
    expect(scores.slice(2010).every((s) => s < ALERT)).toBe(true);
  });

  it('stops alerting on a burst that recurs every day, but still flags a first-time one', () => {
    const noise = seededGaussian(7);
    const values = Array.from({ length: 3000 }, () => 50 + noise());
    const daily = (i: number): boolean => i % 96 === 40; // one-point burst at 10:00 every day
    values.forEach((_, i) => daily(i) && (values[i] += 25));
    values[2900] += 60; // a first-time, larger burst
    const scores = run(createSeasonalDetector(), values);
    const bursts = scores.filter((_, i) => daily(i));
    // Each burst beats the slowly decaying record a little; rarity keeps them near the record level.
    expect(Math.max(...bursts.slice(-10))).toBeLessThan(ALERT);
    expect(scores[2900]).toBeGreaterThan(0.9);
  });

  it('alerts once per event: points right after an alert are damped', () => {
    const noise = seededGaussian(8);
    const values = Array.from({ length: 2000 }, () => 50 + noise());
    values[1500] += 30;
    values[1510] += 40; // a bigger aftershock of the same event
    const scores = run(createSeasonalDetector(), values);
    expect(scores[1500]).toBeGreaterThan(ALERT);
    expect(scores[1510]).toBeLessThan(0.5);
  });

  it('copes with a noisy flat line and flags the point that breaks out of it', () => {
    const noise = seededGaussian(4);
    const values = Array.from({ length: 2000 }, () => 3 + 0.01 * noise());
    values[1500] = 3.5;
    const scores = run(createSeasonalDetector(), values);
    expect(scores[1500]).toBeGreaterThan(0.95);
    expect(Math.max(...scores.slice(0, 1500))).toBeLessThan(scores[1500] - 0.1);
    expect(scores.slice(1000, 1500).every((s) => s < ALERT)).toBe(true);
  });

  it('follows a linear trend without alerting', () => {
    const noise = seededGaussian(5);
    const values = Array.from({ length: 4000 }, (_, i) => 10 + 0.01 * i + 0.5 * noise());
    const scores = run(createSeasonalDetector(), values);
    expect(Math.max(...scores.slice(500))).toBeLessThan(ALERT);
  });

  it('resumes from a JSON checkpoint with identical output', () => {
    const noise = seededGaussian(6);
    const values = Array.from({ length: 3000 }, (_, i) => seasonal(i, noise) + (i === 2500 ? 80 : 0));
    const straight = run(createSeasonalDetector(), values);

    const first = createSeasonalDetector();
    const head = values.slice(0, 1700).map((v, i) => first.update(MONDAY + i * STEP, v));
    const saved = JSON.parse(JSON.stringify(first.snapshot()));
    const resumed = createSeasonalDetector({}, saved);
    const tail = values.slice(1700).map((v, i) => resumed.update(MONDAY + (i + 1700) * STEP, v));
    expect([...head, ...tail]).toEqual(straight);
    expect(JSON.stringify(saved).length).toBeLessThan(2048);
  });

  describe('anomaly likelihood', () => {
    it('computes the Gaussian tail in log10', () => {
      expect(log10GaussianTail(0)).toBeCloseTo(Math.log10(0.5), 6);
      expect(log10GaussianTail(3)).toBeCloseTo(Math.log10(1.3499e-3), 3);
      expect(log10GaussianTail(5)).toBeCloseTo(Math.log10(2.8665e-7), 3);
      expect(log10GaussianTail(10)).toBeCloseTo(Math.log10(7.6199e-24), 3);
    });

    function likelihoods(values: number[]): number[] {
      const d = createSeasonalDetector();
      return values.map((v, i) => {
        d.update(MONDAY + i * STEP, v);
        return d.lastLikelihood;
      });
    }

    it('rises when the series stays far more unpredictable than usual (noise ×10)', () => {
      const noise = seededGaussian(11);
      const values = Array.from({ length: 4000 }, (_, i) => 50 + (i >= 3000 && i < 3100 ? 10 : 1) * noise());
      const lik = likelihoods(values);
      expect(Math.max(...lik.slice(500, 3000))).toBeLessThan(0.6);
      expect(Math.max(...lik.slice(3000, 3030))).toBeGreaterThan(0.6);
    });

    it('stays low for a one-off blip in a long noisy series', () => {
      const noise = seededGaussian(12);
      const values = Array.from({ length: 4000 }, (_, i) => 50 + 3 * noise() + (i === 3000 ? 15 : 0));
      const lik = likelihoods(values);
      expect(Math.max(...lik.slice(500))).toBeLessThan(0.6);
    });

    it('is part of the checkpoint, and older snapshots without it still load', () => {
      const noise = seededGaussian(13);
      const values = Array.from({ length: 2000 }, (_, i) => 20 + noise() * (i >= 1500 ? 4 : 1));
      const straight = likelihoods(values);
      const first = createSeasonalDetector();
      const head = values.slice(0, 1400).map((v, i) => (first.update(MONDAY + i * STEP, v), first.lastLikelihood));
      const saved = JSON.parse(JSON.stringify(first.snapshot()));
      expect(saved.lik).toHaveLength(3);
      const resumed = createSeasonalDetector({}, saved);
      const tail = values.slice(1400).map((v, i) => (resumed.update(MONDAY + (i + 1400) * STEP, v), resumed.lastLikelihood));
      expect([...head, ...tail]).toEqual(straight);
      delete saved.lik;
      const old = createSeasonalDetector({}, saved);
      expect(Number.isFinite(old.update(MONDAY + 1400 * STEP, values[1400]))).toBe(true);
    });
  });

  describe('relative entropy', () => {
    /** Bimodal (6 or 14, noise 0.3) until `change`, then unimodal at 10: same mean, same range, no outlier. */
    function shapeChange(change: number, length: number, seed: number): number[] {
      const noise = seededGaussian(seed);
      return Array.from({ length }, (_, i) => {
        const n = noise();
        return i < change ? 10 + (n >= 0 ? 4 : -4) + 0.3 * noise() : 10 + 0.3 * n;
      });
    }

    function entropies(values: number[], config = {}): { scores: number[]; re: number[] } {
      const d = createSeasonalDetector(config);
      const scores: number[] = [];
      const re: number[] = [];
      values.forEach((v, i) => {
        scores.push(d.update(MONDAY + i * STEP, v));
        re.push(d.lastEntropy);
      });
      return { scores, re };
    }

    it('flags a change in the shape of the distribution that no single point reveals, once', () => {
      const values = shapeChange(3000, 4000, 21);
      const { scores, re } = entropies(values);
      expect(re.slice(0, 3000).every((x) => x === 0)).toBe(true);
      const fired = re.map((x, i) => (x > 0 ? i : -1)).filter((i) => i >= 0);
      expect(fired).toHaveLength(1);
      expect(fired[0]).toBeGreaterThanOrEqual(3000);
      expect(fired[0]).toBeLessThan(3030);
      expect(scores[fired[0]]).toBe(defaultSeasonalDetectorConfig.entropyScore);
      // Without it the detector does not alert on this change.
      const off = entropies(values, { entropyWindow: 0 });
      expect(Math.max(...off.scores.slice(3000, 3100))).toBeLessThan(defaultSeasonalDetectorConfig.alertLevel);
      expect(off.re.every((x) => x === 0)).toBe(true);
    });

    it('computes the test statistic against the remembered histograms (known answer)', () => {
      // A series alternating 9, 11: one remembered histogram, every later window agrees with it.
      const d = createSeasonalDetector({ warmup: 10 });
      for (let i = 0; i < 200; i++) d.update(MONDAY + i * STEP, i % 2 === 0 ? 9 : 11);
      const s = d.snapshot();
      expect(s.reUsed).toHaveLength(1);
      expect(s.reHyp).toHaveLength(defaultSeasonalDetectorConfig.entropyBins);
      // Alternating 9/11 over the range [9, 11]: half the mass in the first bin, half in the last.
      expect(s.reHyp?.[0]).toBeCloseTo(0.5, 1);
      expect(s.reHyp?.[6]).toBeCloseTo(0.5, 1);
      expect(s.reCur?.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
    });

    it('is part of the checkpoint, and older snapshots without it still load', () => {
      const values = shapeChange(1500, 2000, 22);
      const straight = entropies(values);
      const first = createSeasonalDetector();
      const head = values.slice(0, 1490).map((v, i) => [first.update(MONDAY + i * STEP, v), first.lastEntropy]);
      const saved = JSON.parse(JSON.stringify(first.snapshot()));
      expect(saved.reCur).toHaveLength(7);
      const resumed = createSeasonalDetector({}, saved);
      const tail = values.slice(1490).map((v, i) => [resumed.update(MONDAY + (i + 1490) * STEP, v), resumed.lastEntropy]);
      const all = [...head, ...tail];
      expect(all.map((x) => x[0])).toEqual(straight.scores);
      expect(all.map((x) => x[1])).toEqual(straight.re);
      expect(straight.re.some((x) => x > 0)).toBe(true);
      expect(JSON.stringify(saved).length).toBeLessThan(2048);
      delete saved.reCur;
      delete saved.reHyp;
      delete saved.reUsed;
      const old = createSeasonalDetector({}, saved);
      expect(Number.isFinite(old.update(MONDAY + 1490 * STEP, values[1490]))).toBe(true);
    });

    it('validates its settings with their paths', () => {
      const issues = validateSeasonalDetectorConfig({
        ...defaultSeasonalDetectorConfig,
        entropyWindow: 2.5,
        entropyBins: 1,
        entropyHypotheses: 0,
        entropyCritical: 0,
        entropyScore: 2,
        entropyInput: 3,
      });
      expect(issues.map((i) => i.path).sort()).toEqual(['entropyBins', 'entropyCritical', 'entropyHypotheses', 'entropyInput', 'entropyScore', 'entropyWindow']);
    });
  });

  it('ignores non-finite values without corrupting its state', () => {
    const d = createSeasonalDetector();
    for (let i = 0; i < 500; i++) d.update(MONDAY + i * STEP, 10 + (i % 3));
    expect(d.update(MONDAY + 500 * STEP, Number.NaN)).toBe(0);
    expect(Object.values(d.snapshot()).flat().every((v) => Number.isFinite(v))).toBe(true);
  });

  it('reports every config problem with its path', () => {
    expect(validateSeasonalDetectorConfig(defaultSeasonalDetectorConfig)).toEqual([]);
    const issues = validateSeasonalDetectorConfig({ ...defaultSeasonalDetectorConfig, warmup: -1, levelAlpha: 2, clip: 0 });
    expect(issues.map((i) => i.path).sort()).toEqual(['clip', 'levelAlpha', 'warmup']);
    expect(() => createSeasonalDetector({ peakDecay: 0 })).toThrow(/peakDecay/);
  });
});
