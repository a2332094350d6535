/**
 * A strict reader of the Prometheus text format (0.0.4), used by specs to check the endpoint's
 * output the way a scraper reads it: every line is a HELP/TYPE comment or `name{labels} value`.
 */
export interface ParsedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface ParsedExposition {
  types: Map<string, string>;
  samples: ParsedSample[];
}

const METRIC = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const COMMENT = new RegExp(`^# (HELP|TYPE) (${METRIC})(?: (.*))?$`);
const SAMPLE = new RegExp(`^(${METRIC})(?:\\{(.*)\\})? (\\S+)$`);
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/y;
const VALUE = /^(?:[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|NaN|[+-]Inf)$/;

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

export function parseExposition(text: string): ParsedExposition {
  const types = new Map<string, string>();
  const samples: ParsedSample[] = [];
  const seen = new Set<string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const comment = COMMENT.exec(line);
    if (comment) {
      if (comment[1] === 'TYPE') {
        if (types.has(comment[2])) throw new Error(`second TYPE for ${comment[2]}`);
        types.set(comment[2], comment[3] ?? '');
      }
      continue;
    }
    const sample = SAMPLE.exec(line);
    if (!sample) throw new Error(`not a comment or a sample: ${line}`);
    const labels = sample[2] === undefined ? {} : parseLabels(sample[2], line);
    const identity = `${sample[1]}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(identity)) throw new Error(`duplicate sample: ${line}`);
    seen.add(identity);
    samples.push({ name: sample[1], labels, value: parseValue(sample[3], line) });
  }
  return { types, samples };
}
