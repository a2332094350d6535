/**
 * Scorer for the Numenta Anomaly Benchmark, written from the NAB paper and the
 * behaviour of its reference sweeper: anomaly windows, a scaled sigmoid that
 * rewards the first detection in a window by how early it is, a probationary
 * period that is never scored, one threshold for the whole corpus, and
 * normalisation so that the null detector scores 0 and the perfect one 100.
 */

export interface CostProfile {
  tp: number;
  fp: number;
  fn: number;
}

/** NAB "standard" profile: A_TP = 1, A_FP = -0.11, A_FN = -1 (weights kept positive here). */
export const STANDARD_PROFILE: CostProfile = { tp: 1, fp: 0.11, fn: 1 };

export const PROBATION_PERCENT = 0.15;

export interface NabFile {
  /** `category/file.csv`, as keyed in combined_windows.json. */
  name: string;
  /** Epoch milliseconds, ascending. */
  timestamps: ArrayLike<number>;
  scores: ArrayLike<number>;
  /** Window [start, end] in epoch milliseconds, inclusive, ascending and disjoint. */
  windows: ReadonlyArray<readonly [number, number]>;
}

export function probationLength(rows: number): number {
  // NAB caps the probationary period at 15% of 5000 rows.
  return Math.min(Math.floor(PROBATION_PERCENT * rows), PROBATION_PERCENT * 5000);
}

/** 2·sigmoid(-5y) − 1, clamped to −1 far past a window, as in the NAB paper. */
export function scaledSigmoid(y: number): number {
  if (y >= 3) return -1;
  return 2 / (1 + Math.exp(5 * y)) - 1;
}

const MAX_TP = scaledSigmoid(-1);
const NO_WINDOW = -1;
const PROBATION = -2;

/** Per-row contribution if the row were flagged, and which window (if any) it belongs to. */
export interface SweepRows {
  scores: ArrayLike<number>;
  /** What flagging this row is worth (positive inside a window, negative outside). */
  weight: Float64Array;
  /** Local window index, NO_WINDOW (-1) outside windows, PROBATION (-2) when not scored. */
  window: Int32Array;
  /** Windows that contain at least one scored row (only these count as misses). */
  scoredWindows: number;
}

export function sweepRows(file: NabFile, profile: CostProfile = STANDARD_PROFILE): SweepRows {
  const n = file.timestamps.length;
  const weight = new Float64Array(n);
  const window = new Int32Array(n).fill(NO_WINDOW);
  const probation = probationLength(n);
  // Map timestamp windows onto row indexes: first row at/after start, last row at/before end.
  const bounds: Array<[number, number]> = [];
  for (const [start, end] of file.windows) {
    let left = -1;
    let right = -1;
    for (let i = 0; i < n; i++) {
      const t = file.timestamps[i];
      if (left < 0 && t >= start) left = i;
      if (t <= end) right = i;
    }
    if (left >= 0 && right >= left) bounds.push([left, right]);
  }
  let w = 0;
  let prevRight = -1;
  let prevWidth = 0;
  const scored = new Set<number>();
  for (let i = 0; i < n; i++) {
    while (w < bounds.length && bounds[w][1] < i) {
      prevRight = bounds[w][1];
      prevWidth = bounds[w][1] - bounds[w][0] + 1;
      w++;
    }
    if (w < bounds.length && i >= bounds[w][0]) {
      const [, right] = bounds[w];
      const width = right - bounds[w][0] + 1;
      const position = -(right - i + 1) / width;
      weight[i] = (scaledSigmoid(position) * profile.tp) / MAX_TP;
      window[i] = w;
    } else {
      const past = prevRight < 0 ? 3 : Math.abs(prevRight - i) / (prevWidth - 1);
      weight[i] = scaledSigmoid(past) * profile.fp;
    }
    if (i < probation) window[i] = PROBATION;
    else if (window[i] >= 0) scored.add(window[i]);
  }
  // Renumber so scored windows are 0..k-1 (windows lost to probation never count).
  const remap = new Map<number, number>();
  [...scored].sort((a, b) => a - b).forEach((old, idx) => remap.set(old, idx));
  for (let i = 0; i < n; i++) if (window[i] >= 0) window[i] = remap.get(window[i]) ?? PROBATION;
  return { scores: file.scores, weight, window, scoredWindows: scored.size };
}

export interface RawScore {
  score: number;
  tp: number;
  fp: number;
  fn: number;
}

/** Raw score of one file at a threshold (a row is a detection when score >= threshold). */
export function scoreRows(rows: SweepRows, threshold: number, profile: CostProfile = STANDARD_PROFILE): RawScore {
  const best = new Float64Array(rows.scoredWindows).fill(-profile.fn);
  const hit = new Uint8Array(rows.scoredWindows);
  let fpSum = 0;
  let fp = 0;
  for (let i = 0; i < rows.weight.length; i++) {
    const win = rows.window[i];
    if (win === PROBATION || !(rows.scores[i] >= threshold)) continue;
    if (win === NO_WINDOW) {
      fpSum += rows.weight[i];
      fp++;
    } else {
      hit[win] = 1;
      if (rows.weight[i] > best[win]) best[win] = rows.weight[i];
    }
  }
  let score = fpSum;
  let tp = 0;
  for (let k = 0; k < best.length; k++) {
    score += best[k];
    tp += hit[k];
  }
  return { score, tp, fp, fn: rows.scoredWindows - tp };
}

/**
 * Threshold maximising the summed raw score over all files: sweep every distinct
 * score from high to low, adding rows as they become detections.
 */
export function optimiseThreshold(files: SweepRows[], profile: CostProfile = STANDARD_PROFILE): { threshold: number; score: number } {
  let total = 0;
  const offsets: number[] = [];
  let windowCount = 0;
  for (const f of files) {
    total += f.weight.length;
    offsets.push(windowCount);
    windowCount += f.scoredWindows;
  }
  const score = new Float64Array(total);
  const weight = new Float64Array(total);
  const window = new Int32Array(total);
  let k = 0;
  files.forEach((f, fi) => {
    for (let i = 0; i < f.weight.length; i++) {
      if (f.window[i] === PROBATION) continue;
      score[k] = f.scores[i];
      weight[k] = f.weight[i];
      window[k] = f.window[i] >= 0 ? f.window[i] + offsets[fi] : NO_WINDOW;
      k++;
    }
  });
  const order = Array.from({ length: k }, (_, i) => i).sort((a, b) => score[b] - score[a]);
  const best = new Float64Array(windowCount).fill(-profile.fn);
  let current = -profile.fn * windowCount;
  let bestScore = current;
  let bestThreshold = 1.1;
  for (let j = 0; j < order.length; j++) {
    const i = order[j];
    const win = window[i];
    if (win === NO_WINDOW) current += weight[i];
    else if (weight[i] > best[win]) {
      current += weight[i] - best[win];
      best[win] = weight[i];
    }
    // Only evaluate once all rows sharing this score value are included.
    const next = j + 1 < order.length ? score[order[j + 1]] : Number.NEGATIVE_INFINITY;
    if (next !== score[i] && current > bestScore) {
      bestScore = current;
      bestThreshold = score[i];
    }
  }
  return { threshold: bestThreshold, score: bestScore };
}

export interface NormalisedScore {
  raw: number;
  nullScore: number;
  perfectScore: number;
  normalised: number;
  tp: number;
  fp: number;
  fn: number;
}

/** 100·(raw − null)/(perfect − null); null misses every window, perfect flags each window's first row. */
export function normalise(parts: Array<{ rows: SweepRows; raw: RawScore }>, profile: CostProfile = STANDARD_PROFILE): NormalisedScore {
  let raw = 0;
  let windows = 0;
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (const p of parts) {
    raw += p.raw.score;
    windows += p.rows.scoredWindows;
    tp += p.raw.tp;
    fp += p.raw.fp;
    fn += p.raw.fn;
  }
  const nullScore = -profile.fn * windows;
  const perfectScore = profile.tp * windows;
  const span = perfectScore - nullScore;
  return { raw, nullScore, perfectScore, normalised: span > 0 ? (100 * (raw - nullScore)) / span : 0, tp, fp, fn };
}

export interface CorpusResult {
  threshold: number;
  overall: NormalisedScore;
  byCategory: Record<string, NormalisedScore>;
  byFile: Record<string, RawScore>;
}

/** Full NAB evaluation: corpus-optimal threshold, then overall and per-category normalised scores. */
export function scoreCorpus(files: NabFile[], profile: CostProfile = STANDARD_PROFILE): CorpusResult {
  const rows = files.map((f) => sweepRows(f, profile));
  const { threshold } = optimiseThreshold(rows, profile);
  const parts = rows.map((r) => ({ rows: r, raw: scoreRows(r, threshold, profile) }));
  const byFile: Record<string, RawScore> = {};
  const groups = new Map<string, Array<{ rows: SweepRows; raw: RawScore }>>();
  files.forEach((f, i) => {
    byFile[f.name] = parts[i].raw;
    const category = f.name.includes('/') ? f.name.slice(0, f.name.indexOf('/')) : '';
    const g = groups.get(category) ?? [];
    g.push(parts[i]);
    groups.set(category, g);
  });
  const byCategory: Record<string, NormalisedScore> = {};
  for (const [category, g] of [...groups].sort(([a], [b]) => a.localeCompare(b))) byCategory[category] = normalise(g, profile);
  return { threshold, overall: normalise(parts, profile), byCategory, byFile };
}
