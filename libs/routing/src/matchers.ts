/**
 * Alertmanager matchers, compiled once: the grammar is the routing contract's (Alertmanager 0.25's
 * pkg/labels), so what a config accepts and what routes are one parser.
 */
import { anchoredRegExp, parseMatchers, type MatchType } from '@headroom/contracts';

/** An alert's labels. A missing label and an empty value are the same thing, as in Prometheus. */
export type Labels = Readonly<Record<string, string>>;

export interface Matcher {
  readonly name: string;
  readonly type: MatchType;
  /** Unescaped value; for `=~`/`!~` the regex source before anchoring. */
  readonly value: string;
  /** `^(?:value)$` for `=~`/`!~`. */
  readonly regex?: RegExp;
}

export class MatcherSyntaxError extends Error {
  constructor(
    readonly text: string,
    reason: string,
  ) {
    super(reason);
    this.name = 'MatcherSyntaxError';
  }
}

/**
 * Matchers from Alertmanager's text form, one config line each (a line may hold several:
 * `a="1", b=~"2"`). Throws MatcherSyntaxError naming the bad line.
 */
export function parseMatcherLines(lines: readonly string[]): Matcher[] {
  const out: Matcher[] = [];
  for (const line of lines) {
    const r = parseMatchers(line);
    if (!r.ok) throw new MatcherSyntaxError(line, r.error);
    for (const m of r.matchers) out.push(m.type === '=~' || m.type === '!~' ? { ...m, regex: anchoredRegExp(m.value) } : { ...m });
  }
  return out;
}

export function matcherMatches(m: Matcher, labels: Labels): boolean {
  const v = labels[m.name] ?? '';
  switch (m.type) {
    case '=':
      return v === m.value;
    case '!=':
      return v !== m.value;
    case '=~':
      return (m.regex as RegExp).test(v);
    case '!~':
      return !(m.regex as RegExp).test(v);
  }
}

/** All matchers hold (so an empty list matches every alert, like Alertmanager's root route). */
export function matches(matchers: readonly Matcher[], labels: Labels): boolean {
  return matchers.every((m) => matcherMatches(m, labels));
}

/** Alertmanager's text form of a matcher (quoted, escaped): parses back to the same matcher. */
export function formatMatcher(m: Pick<Matcher, 'name' | 'type' | 'value'>): string {
  return `${m.name}${m.type}"${m.value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}
