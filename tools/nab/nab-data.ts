import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import { join, basename, dirname } from 'node:path';

/** One NAB data file loaded into memory: the runner streams it point by point afterwards. */
export interface NabSeries {
  category: string;
  file: string;
  /** `category/file.csv`, the key used by combined_windows.json. */
  key: string;
  rawTimestamps: string[];
  timestamps: Float64Array;
  values: Float64Array;
}

/** NAB timestamps are `YYYY-MM-DD HH:MM:SS[.ffffff]` in UTC. */
export function parseNabTimestamp(text: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?/.exec(text.trim());
  if (!m) throw new Error(`unparseable timestamp: ${text}`);
  const ms = m[7] ? Math.round(Number(`0.${m[7]}`) * 1000) : 0;
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6], ms);
}

export function readSeries(path: string, category: string): NabSeries {
  const lines = readFileSync(path, 'utf8').split(/\r?\n/);
  const header = lines[0].split(',').map((h) => h.trim());
  const ti = header.indexOf('timestamp');
  const vi = header.indexOf('value');
  if (ti < 0 || vi < 0) throw new Error(`${path}: expected timestamp,value columns`);
  const raw: string[] = [];
  const values: number[] = [];
  for (let i = 1; i < lines.length; i++) {
    if (lines[i].trim() === '') continue;
    const cols = lines[i].split(',');
    raw.push(cols[ti]);
    values.push(Number(cols[vi]));
  }
  const file = basename(path);
  return {
    category,
    file,
    key: `${category}/${file}`,
    rawTimestamps: raw,
    timestamps: Float64Array.from(raw, parseNabTimestamp),
    values: Float64Array.from(values),
  };
}

/** Every CSV one level below `dataDir`, sorted so runs are reproducible. */
export function readCorpus(dataDir: string): NabSeries[] {
  const out: NabSeries[] = [];
  for (const category of readdirSync(dataDir).sort()) {
    const dir = join(dataDir, category);
    if (!statSync(dir).isDirectory()) continue;
    for (const f of readdirSync(dir).sort()) if (f.endsWith('.csv')) out.push(readSeries(join(dir, f), category));
  }
  return out;
}

export type WindowMap = Record<string, Array<[number, number]>>;

/** Windows file next to the data folder (NAB layout: labels/combined_windows.json or ../combined_windows.json). */
export function findWindowsFile(dataDir: string): string | undefined {
  const candidates = [
    join(dataDir, 'combined_windows.json'),
    join(dirname(dataDir), 'combined_windows.json'),
    join(dirname(dataDir), 'labels', 'combined_windows.json'),
  ];
  return candidates.find((c) => existsSync(c));
}

export function readWindows(path: string | undefined): WindowMap {
  if (!path) return {};
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as Record<string, Array<[string, string]>>;
  const out: WindowMap = {};
  for (const [key, windows] of Object.entries(parsed)) {
    out[key] = windows.map(([a, b]) => [parseNabTimestamp(a), parseNabTimestamp(b)] as [number, number]);
  }
  return out;
}
