/**
 * Model-selection harness: runs the seasonal detector with one or more config variants over a
 * NAB corpus and reports a split so tuning can be checked for overfitting.
 *   tune    = files at even positions (0, 2, …) of each category's sorted list; threshold optimised here
 *   holdout = files at odd positions; scored at the tune threshold (honest) and at its own optimum
 *   full    = the whole corpus at its own optimal threshold (the standard NAB figure)
 *
 *   node -r @swc-node/register tools/nab/split.ts --data ../shared/nab/data ['{"peakDecay":0.999}' ...]
 */
import { resolve } from 'node:path';
import {
  createSeasonalDetector,
  normalise,
  optimiseThreshold,
  scoreCorpus,
  scoreRows,
  sweepRows,
  NabFile,
  SeasonalDetectorConfig,
  SweepRows,
} from '@headroom/detectors';
import { findWindowsFile, readCorpus, readWindows, NabSeries } from './nab-data';

export interface SplitResult {
  tune: number;
  holdoutAtTuneThreshold: number;
  holdoutOwnThreshold: number;
  full: number;
  threshold: number;
  byCategory: Record<string, number>;
  fp: number;
  fn: number;
  byFile: Record<string, string>;
}

/** Even/odd split within each category (by sorted file name). */
export function splitCorpus(corpus: NabSeries[]): { tune: Set<string>; holdout: Set<string> } {
  const tune = new Set<string>();
  const holdout = new Set<string>();
  const seen = new Map<string, number>();
  for (const s of corpus) {
    const k = seen.get(s.category) ?? 0;
    seen.set(s.category, k + 1);
    (k % 2 === 0 ? tune : holdout).add(s.key);
  }
  return { tune, holdout };
}

export function evaluate(corpus: NabSeries[], windows: Record<string, Array<[number, number]>>, config: Partial<SeasonalDetectorConfig>): SplitResult {
  const files: NabFile[] = corpus.map((series) => {
    const d = createSeasonalDetector(config);
    const scores = new Float64Array(series.values.length);
    for (let i = 0; i < scores.length; i++) scores[i] = d.update(series.timestamps[i], series.values[i]);
    return { name: series.key, timestamps: series.timestamps, scores, windows: windows[series.key] ?? [] };
  });
  const { tune, holdout } = splitCorpus(corpus);
  const rows = files.map((f) => sweepRows(f));
  const pick = (set: Set<string>): SweepRows[] => rows.filter((_, i) => set.has(files[i].name));
  const at = (r: SweepRows[], th: number): number => normalise(r.map((x) => ({ rows: x, raw: scoreRows(x, th) }))).normalised;
  const tuneRows = pick(tune);
  const holdRows = pick(holdout);
  const tTh = optimiseThreshold(tuneRows).threshold;
  const hTh = optimiseThreshold(holdRows).threshold;
  const full = scoreCorpus(files);
  const byCategory: Record<string, number> = {};
  for (const [k, v] of Object.entries(full.byCategory)) byCategory[k] = Math.round(v.normalised * 10) / 10;
  return {
    tune: at(tuneRows, tTh),
    holdoutAtTuneThreshold: at(holdRows, tTh),
    holdoutOwnThreshold: at(holdRows, hTh),
    full: full.overall.normalised,
    threshold: full.threshold,
    byCategory,
    fp: full.overall.fp,
    fn: full.overall.fn,
    byFile: Object.fromEntries(Object.entries(full.byFile).map(([k, v]) => [k, `${v.score.toFixed(2)} tp ${v.tp} fp ${v.fp} fn ${v.fn}`])),
  };
}

function main(): void {
  const i = process.argv.indexOf('--data');
  const dataDir = resolve(i >= 0 ? process.argv[i + 1] : '../shared/nab/data');
  const windows = readWindows(findWindowsFile(dataDir));
  const corpus = readCorpus(dataDir);
  const variants = process.argv.slice(2).filter((a, k, all) => a !== '--data' && all[k - 1] !== '--data');
  if (variants.length === 0) variants.push('{}');
  const f = (x: number): string => x.toFixed(process.env.DIGITS ? Number(process.env.DIGITS) : 1).padStart(5);
  for (const v of variants) {
    const r = evaluate(corpus, windows, JSON.parse(v) as Partial<SeasonalDetectorConfig>);
    console.log(
      `tune ${f(r.tune)} | holdout ${f(r.holdoutAtTuneThreshold)} (own th ${f(r.holdoutOwnThreshold)}) | full ${f(r.full)} th ${r.threshold.toFixed(3)} fp ${r.fp} fn ${r.fn} | ${Object.values(r.byCategory).join(' ')} | ${v}`,
    );
    if (process.env.BY_FILE) for (const [k, x] of Object.entries(r.byFile)) console.log(`  ${k.padEnd(60)} ${x}`);
  }
}

main();
