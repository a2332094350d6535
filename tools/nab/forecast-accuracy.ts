/**
 * Forecast accuracy of the streaming Holt-Winters forecaster (the one analytics runs per series) on
 * a NAB-layout data folder: every file is streamed one point at a time, and at each point after the
 * first 15 % (NAB's probationary period, ≤ 750 rows) the forecast `--horizon` steps ahead is compared
 * with the value that follows. Prints sMAPE and MASE per category and overall (pooled over points),
 * with the naive "it stays where it is" forecast's sMAPE and the 95 % interval's coverage.
 *
 *   npm run forecast:accuracy -- --data ../shared/nab/data [--horizon 6] [--config '{"alpha":0.3}']
 */
import { resolve } from 'node:path';
import { accumulateForecastErrors, accuracyOf, emptyAccuracySums, type AccuracySums, type ForecastAccuracy, type HoltWintersConfig } from '@headroom/detectors';
import { readCorpus } from './nab-data';

function arg(name: string, fallback?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0 && i + 1 < process.argv.length) return process.argv[i + 1];
  if (fallback === undefined) throw new Error(`missing --${name}`);
  return fallback;
}

function add(into: AccuracySums, from: AccuracySums): void {
  for (const k of Object.keys(into) as (keyof AccuracySums)[]) into[k] += from[k];
}

function main(): void {
  const dataDir = resolve(arg('data'));
  const horizon = Number(arg('horizon', '6'));
  const config = JSON.parse(arg('config', '{}')) as Partial<HoltWintersConfig>;
  const corpus = readCorpus(dataDir);
  if (corpus.length === 0) throw new Error(`no CSV files under ${dataDir}`);

  const byCategory = new Map<string, AccuracySums>();
  const overall = emptyAccuracySums();
  let maseSum = 0;
  let maseFiles = 0;
  for (const series of corpus) {
    const skip = Math.min(750, Math.floor(0.15 * series.values.length));
    const sums = accumulateForecastErrors(series.values, horizon, skip, emptyAccuracySums(), config);
    const file = accuracyOf(sums, horizon);
    if (Number.isFinite(file.mase)) {
      maseSum += file.mase;
      maseFiles++;
    }
    const cat = byCategory.get(series.category) ?? emptyAccuracySums();
    add(cat, sums);
    byCategory.set(series.category, cat);
    add(overall, sums);
  }
  const row = (name: string, a: ForecastAccuracy): string =>
    `${name.padEnd(24)} sMAPE ${a.smape.toFixed(2).padStart(6)} %   MASE ${a.mase.toFixed(3)}   naive sMAPE ${a.naiveSmape.toFixed(2).padStart(6)} %   95% coverage ${(100 * a.coverage95).toFixed(1)} %   ${a.points} forecasts`;
  console.log(`Holt-Winters forecast accuracy at horizon ${horizon} steps, ${corpus.length} files (${dataDir})`);
  for (const [category, sums] of byCategory) console.log(row(category, accuracyOf(sums, horizon)));
  console.log(row('overall (pooled)', accuracyOf(overall, horizon)));
  console.log(`mean of per-file MASE: ${(maseSum / Math.max(1, maseFiles)).toFixed(3)} over ${maseFiles} files`);
}

main();
