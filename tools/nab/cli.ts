/**
 * NAB runner: streams every CSV of a NAB-layout data folder through the streaming
 * detector one point at a time (as production does), writes NAB-format result
 * files, then scores them with the standard profile.
 *
 *   npm run nab -- --data ../shared/nab/data --out results/nab [--windows path] [--detector name]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createSeasonalDetector, scoreCorpus, NabFile, NormalisedScore } from '@headroom/detectors';
import { findWindowsFile, readCorpus, readWindows } from './nab-data';

function arg(name: string, fallback?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0 && i + 1 < process.argv.length) return process.argv[i + 1];
  if (fallback === undefined) throw new Error(`missing --${name}`);
  return fallback;
}

function main(): void {
  const dataDir = resolve(arg('data'));
  const outDir = resolve(arg('out', 'results/nab'));
  const detectorName = arg('detector', 'headroom');
  const windowsPath = process.argv.includes('--windows') ? resolve(arg('windows')) : findWindowsFile(dataDir);
  const windows = readWindows(windowsPath);
  const corpus = readCorpus(dataDir);
  if (corpus.length === 0) throw new Error(`no CSV files under ${dataDir}`);

  const scored: NabFile[] = [];
  const started = process.hrtime.bigint();
  let points = 0;
  for (const series of corpus) {
    const detector = createSeasonalDetector();
    const n = series.values.length;
    const scores = new Float64Array(n);
    const fileWindows = windows[series.key] ?? [];
    const lines = ['timestamp,value,anomaly_score,label'];
    let w = 0;
    for (let i = 0; i < n; i++) {
      const t = series.timestamps[i];
      scores[i] = detector.update(t, series.values[i]);
      // Labels are written for NAB's tooling only; the detector never sees them.
      while (w < fileWindows.length && fileWindows[w][1] < t) w++;
      const label = w < fileWindows.length && t >= fileWindows[w][0] ? 1 : 0;
      lines.push(`${series.rawTimestamps[i]},${series.values[i]},${scores[i]},${label}`);
    }
    points += n;
    const dir = join(outDir, series.category);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${detectorName}_${series.file}`), lines.join('\n') + '\n');
    scored.push({ name: series.key, timestamps: series.timestamps, scores, windows: fileWindows });
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;

  const result = scoreCorpus(scored);
  const row = (name: string, s: NormalisedScore): string =>
    `${name.padEnd(24)} ${s.normalised.toFixed(1).padStart(6)}   raw ${s.raw.toFixed(2).padStart(7)}  tp ${s.tp}  fp ${s.fp}  fn ${s.fn}`;
  console.log(`NAB standard profile, detector "${detectorName}", ${corpus.length} files, ${points} points (${seconds.toFixed(2)} s incl. I/O)`);
  console.log(`windows: ${windowsPath ?? '(none found: all labels 0)'}`);
  console.log(`corpus-optimal threshold: ${result.threshold}`);
  for (const [category, s] of Object.entries(result.byCategory)) console.log(row(category, s));
  console.log(row('overall', result.overall));
  writeFileSync(join(outDir, `${detectorName}_scores.json`), JSON.stringify(result, null, 2) + '\n');
}

main();
