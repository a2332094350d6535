/**
 * Detector throughput and state size, printed as JSON. Single-threaded, so points/s is per core.
 *   npm run bench:detectors
 */
import { cpus } from 'node:os';
import {
  MONDAY,
  createDriftMonitor,
  createHoltWintersForecaster,
  createIsolationForest,
  createSeasonalDetector,
  seededGaussian,
} from '@headroom/detectors';

const STEP = 60_000;

function timeIt(points: number, run: () => void): number {
  const start = process.hrtime.bigint();
  run();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return Math.round(points / seconds);
}

/** JSON bytes of a snapshot (what a checkpoint store holds) and raw numeric bytes (8 per number). */
function stateSize(state: unknown): { jsonBytes: number; numericBytes: number } {
  let numbers = 0;
  const walk = (v: unknown): void => {
    if (typeof v === 'number') numbers++;
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(state);
  return { jsonBytes: Buffer.byteLength(JSON.stringify(state)), numericBytes: numbers * 8 };
}

function seasonalBench(): Record<string, unknown> {
  const n = 2_000_000;
  const series = 100;
  const g = seededGaussian(1);
  const values = Float64Array.from({ length: n }, (_, i) => 100 + 20 * Math.sin((2 * Math.PI * i) / 1440) + g() + (i % 50_000 === 0 ? 40 : 0));
  // Interleave many series, as the analytics service would, so caches don't flatter the result.
  const detectors = Array.from({ length: series }, () => createSeasonalDetector());
  let sink = 0;
  timeIt(n / 4, () => {
    for (let i = 0; i < n / 4; i++) sink += detectors[i % series].update(MONDAY + i * STEP, values[i]);
  }); // warm-up for the JIT
  const pointsPerSecond = timeIt(n, () => {
    for (let i = 0; i < n; i++) sink += detectors[i % series].update(MONDAY + Math.floor(i / series) * STEP, values[i]);
  });
  return { detector: 'seasonal', pointsPerSecond, stateBytesPerSeries: stateSize(detectors[0].snapshot()), checksum: Math.round(sink) };
}

function isolationForestBench(): Record<string, unknown> {
  const n = 20_000;
  const g = seededGaussian(2);
  const pts = Array.from({ length: n }, () => [g(), g(), g()]);
  const forest = createIsolationForest({ dimensions: 3 });
  let sink = 0;
  const pointsPerSecond = timeIt(n, () => {
    for (const p of pts) sink += forest.update(p);
  });
  const scoreOnly = timeIt(n, () => {
    for (const p of pts) sink += forest.score(p);
  });
  return {
    detector: 'isolation-forest',
    config: '3 dims, 100 trees, ψ=256, window 2048, retrain every 256',
    pointsPerSecond,
    scoreOnlyPointsPerSecond: scoreOnly,
    stateBytesPerTenant: stateSize(forest.snapshot()),
    checksum: Math.round(sink),
  };
}

function holtWintersBench(): Record<string, unknown> {
  const n = 1_000_000;
  const g = seededGaussian(3);
  const f = createHoltWintersForecaster();
  const values = Float64Array.from({ length: n }, (_, i) => 50 + 10 * Math.sin((2 * Math.PI * i) / 24) + g());
  const pointsPerSecond = timeIt(n, () => {
    for (let i = 0; i < n; i++) f.update(values[i]);
  });
  return { detector: 'holt-winters', seasonLength: f.seasonLength, pointsPerSecond, stateBytesPerSeries: stateSize(f.snapshot()) };
}

function driftBench(): Record<string, unknown> {
  const n = 1_000_000;
  const g = seededGaussian(4);
  const m = createDriftMonitor();
  const values = Float64Array.from({ length: n }, () => g());
  const pointsPerSecond = timeIt(n, () => {
    for (let i = 0; i < n; i++) m.update(values[i]);
  });
  const checks = 200;
  const checksPerSecond = timeIt(checks, () => {
    for (let i = 0; i < checks; i++) m.check();
  });
  return { detector: 'drift', config: 'reference 1000, current 500, 10 bins', pointsPerSecond, checksPerSecond, stateBytesPerSeries: stateSize(m.snapshot()) };
}

const results = [seasonalBench(), isolationForestBench(), holtWintersBench(), driftBench()];
console.log(JSON.stringify({ node: process.version, cpu: cpus()[0]?.model, results }, null, 2));
