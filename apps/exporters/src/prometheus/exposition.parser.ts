/**
 * A strict reader of the two exposition formats, used by specs to check the endpoint's output the
 * way a scraper reads it. Text 0.0.4: HELP/TYPE comments and `name{labels} value [timestamp_ms]`,
 * one sample per series. OpenMetrics 1.0: HELP/TYPE/UNIT comments, `# EOF` last, families not
 * interleaved, counter samples named `<family>_total`, timestamps in seconds, and several points of
 * one series only next to each other with increasing timestamps.
 */
import type { ExpositionFormat } from './exposition';

export interface ParsedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
  /** Milliseconds, when the sample carries a timestamp. */
  timestampMs?: number;
}

export interface ParsedExposition {
  /** Family name → type (the text format names a family by its samples' name). */
  types: Map<string, string>;
  samples: ParsedSample[];
}

const METRIC = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const COMMENT = new RegExp(`^# (HELP|TYPE|UNIT) (${METRIC})(?: (.*))?$`);
const SAMPLE = new RegExp(`^(${METRIC})(?:\\{(.*)\\})? (\\S+)(?: (\\S+))?$`);
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/y;
const VALUE = /^(?:[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|NaN|[+-]Inf)$/;
const TEXT_TIMESTAMP = /^-?\d+$/;
const OM_TIMESTAMP = /^-?\d+(?:\.\d+)?$/;

function parseValue(raw: string, line: string): number {
  if (!VALUE.test(raw)) throw new Error(`bad sample value in: ${line}`);
  return raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw);
}

function parseLabels(raw: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < raw.length) {
    const m = LABEL.exec(raw);
    if (!m) throw new Error(`bad labels in: ${line}`);
    if (m[1] in labels) throw new Error(`duplicate label ${m[1]} in: ${line}`);
    labels[m[1]] = m[2].replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
  }
  return labels;
}

function parseTimestamp(raw: string | undefined, format: ExpositionFormat, line: string): number | undefined {
  if (raw === undefined) return undefined;
  if (!(format === 'text' ? TEXT_TIMESTAMP : OM_TIMESTAMP).test(raw)) throw new Error(`bad timestamp in: ${line}`);
  return format === 'text' ? Number(raw) : Math.round(Number(raw) * 1000);
}

export function parseExposition(text: string, format: ExpositionFormat = 'text'): ParsedExposition {
  const types = new Map<string, string>();
  const samples: ParsedSample[] = [];
  const lines = text.split('\n');
  if (format === 'openmetrics') {
    if (lines.pop() !== '' || lines.pop() !== '# EOF') throw new Error('an OpenMetrics page must end with "# EOF\\n"');
  }
  const finished = new Set<string>();
  let family: string | undefined;
  const seen = new Set<string>();
  let previous: { identity: string; timestampMs?: number } | undefined;
  for (const line of lines) {
    if (line === '') {
      if (format === 'openmetrics') throw new Error('empty line in an OpenMetrics page');
      continue;
    }
    const comment = COMMENT.exec(line);
    if (comment) {
      if (format === 'text' && comment[1] === 'UNIT') throw new Error(`UNIT is not part of the text format: ${line}`);
      if (format === 'openmetrics' && comment[2] !== family) {
        if (finished.has(comment[2])) throw new Error(`family ${comment[2]} is interleaved`);
        if (family) finished.add(family);
        family = comment[2];
      }
      if (comment[1] === 'TYPE') {
        if (types.has(comment[2])) throw new Error(`second TYPE for ${comment[2]}`);
        types.set(comment[2], comment[3] ?? '');
      }
      continue;
    }
    if (line.startsWith('#')) throw new Error(`unexpected comment: ${line}`);
    const sample = SAMPLE.exec(line);
    if (!sample) throw new Error(`not a comment or a sample: ${line}`);
    const [, name, rawLabels, rawValue, rawTimestamp] = sample;
    if (format === 'openmetrics') {
      const type = family === undefined ? undefined : types.get(family);
      const expected = type === 'counter' ? [`${family}_total`, `${family}_created`] : [family];
      if (!expected.includes(name)) throw new Error(`sample ${name} outside its family (current: ${family ?? 'none'}) in: ${line}`);
    }
    const labels = rawLabels === undefined ? {} : parseLabels(rawLabels, line);
    const timestampMs = parseTimestamp(rawTimestamp, format, line);
    const identity = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(identity)) {
      // Text: one sample per series. OpenMetrics: more points only right after the last one, later in time.
      const continues = format === 'openmetrics' && previous?.identity === identity && previous.timestampMs !== undefined && timestampMs !== undefined && timestampMs > previous.timestampMs;
      if (!continues) throw new Error(`duplicate sample: ${line}`);
    }
    seen.add(identity);
    previous = { identity, timestampMs };
    samples.push({ name, labels, value: parseValue(rawValue, line), ...(timestampMs === undefined ? {} : { timestampMs }) });
  }
  return { types, samples };
}
