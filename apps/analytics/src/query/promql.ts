/*
 * The PromQL subset the query API answers: an instant selector, or one `<fn>_over_time` over a range
 * selector. The label matchers inside `{…}` go through `parseMatchers` of @headroom/contracts, the
 * grammar alerting's routes already use, so Headroom has one matcher parser; this file only adds
 * what surrounds them (metric name, `[range]`, the function call).
 */
import { anchoredRegExp, durationProblem, parseDuration, parseMatchers, type MatchType } from '@headroom/contracts';

export interface LabelMatcher {
  readonly name: string;
  readonly type: MatchType;
  readonly value: string;
  readonly regex?: RegExp;
}

export interface Selector {
  /** Every matcher, the metric name as `__name__ = name`. */
  readonly matchers: readonly LabelMatcher[];
  /** The metric name when the selector fixes it with an equality (`name{…}` or `{__name__="name"}`). */
  readonly metric?: string;
}

export const OVER_TIME_FUNCTIONS = ['avg_over_time', 'min_over_time', 'max_over_time', 'sum_over_time', 'count_over_time', 'quantile_over_time'] as const;
export type OverTimeFunction = (typeof OVER_TIME_FUNCTIONS)[number];

export type Expr =
  | { readonly kind: 'selector'; readonly selector: Selector }
  | { readonly kind: 'over_time'; readonly fn: OverTimeFunction; readonly selector: Selector; readonly rangeMs: number; readonly quantile?: number };

/** A query that does not parse; `position` is the 0-based offset of the problem. */
export class PromQLError extends Error {
  constructor(
    readonly position: number,
    readonly reason: string,
  ) {
    super(`parse error at char ${position + 1}: ${reason}`);
    this.name = 'PromQLError';
  }
}

const IDENT = /[a-zA-Z_:][a-zA-Z0-9_:]*/y;
const NUMBER = /[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/y;
const MAX_QUERY_LENGTH = 4096;
const MATCHER_SHAPE = /^\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(?:=~|!~|!=|=)\s*""\s*(?:,\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(?:=~|!~|!=|=)\s*""\s*)*$/;

/** A selector alone, as `match[]` and `/v1/query/*` take it. */
export function parseSelector(text: string): Selector {
  const p = new Cursor(text);
  const s = p.selector();
  p.end();
  return s;
}

/** An instant selector or `<fn>_over_time(selector[range])` / `quantile_over_time(φ, selector[range])`. */
export function parseQuery(text: string): Expr {
  const p = new Cursor(text);
  p.skipSpace();
  const at = p.at;
  const ident = p.peekIdent();
  if (ident !== undefined && p.isCallAfter(ident)) {
    if (!(OVER_TIME_FUNCTIONS as readonly string[]).includes(ident))
      throw new PromQLError(at, `function ${JSON.stringify(ident)} is not supported here: use an instant selector or one of ${OVER_TIME_FUNCTIONS.join(', ')}`);
    const fn = ident as OverTimeFunction;
    p.advance(ident.length);
    p.expect('(');
    let quantile: number | undefined;
    if (fn === 'quantile_over_time') {
      quantile = p.number();
      if (!(quantile >= 0 && quantile <= 1)) throw new PromQLError(p.at, `quantile must be between 0 and 1, got ${quantile}`);
      p.expect(',');
    }
    const selector = p.selector();
    p.expect('[');
    const rangeMs = p.duration();
    p.expect(']');
    p.expect(')');
    p.end();
    return { kind: 'over_time', fn, selector, rangeMs, ...(quantile !== undefined ? { quantile } : {}) };
  }
  const selector = p.selector();
  p.skipSpace();
  if (p.peek() === '[') throw new PromQLError(p.at, 'a range selector must be the argument of an _over_time function');
  p.end();
  return { kind: 'selector', selector };
}

/** Prometheus's rule: a selector must have a matcher that does not match the empty string. */
function checkNotEmpty(matchers: readonly LabelMatcher[], at: number): void {
  const selective = matchers.some((m) => !matchesValue(m, ''));
  if (!selective) throw new PromQLError(at, 'a selector must contain at least one matcher that does not match the empty string (e.g. a metric name)');
}

export function matchesValue(m: LabelMatcher, v: string): boolean {
  switch (m.type) {
    case '=':
      return v === m.value;
    case '!=':
      return v !== m.value;
    case '=~':
      return m.regex!.test(v);
    case '!~':
      return !m.regex!.test(v);
  }
}

/** All matchers hold; a missing label is the empty string, as in Prometheus. */
export function matchesLabels(matchers: readonly LabelMatcher[], labels: Readonly<Record<string, string>>): boolean {
  return matchers.every((m) => matchesValue(m, labels[m.name] ?? ''));
}

class Cursor {
  at = 0;

  constructor(private readonly src: string) {
    if (src.length > MAX_QUERY_LENGTH) throw new PromQLError(MAX_QUERY_LENGTH, `query longer than ${MAX_QUERY_LENGTH} characters`);
  }

  skipSpace(): void {
    while (this.at < this.src.length && /\s/.test(this.src[this.at])) this.at++;
  }

  peek(): string | undefined {
    return this.src[this.at];
  }

  advance(n: number): void {
    this.at += n;
  }

  peekIdent(): string | undefined {
    IDENT.lastIndex = this.at;
    return IDENT.exec(this.src)?.[0];
  }

  isCallAfter(ident: string): boolean {
    let i = this.at + ident.length;
    while (i < this.src.length && /\s/.test(this.src[i])) i++;
    return this.src[i] === '(';
  }

  expect(c: string): void {
    this.skipSpace();
    if (this.src[this.at] !== c) throw new PromQLError(this.at, `expected '${c}', found ${this.describe()}`);
    this.at++;
  }

  end(): void {
    this.skipSpace();
    if (this.at < this.src.length) throw new PromQLError(this.at, `unexpected ${this.describe()}`);
  }

  number(): number {
    this.skipSpace();
    NUMBER.lastIndex = this.at;
    const m = NUMBER.exec(this.src);
    if (!m) throw new PromQLError(this.at, `expected a number, found ${this.describe()}`);
    this.at += m[0].length;
    return Number(m[0]);
  }

  duration(): number {
    this.skipSpace();
    const start = this.at;
    while (this.at < this.src.length && /[0-9a-z]/.test(this.src[this.at])) this.at++;
    const text = this.src.slice(start, this.at);
    const problem = durationProblem(text);
    if (problem) throw new PromQLError(start, `invalid range ${JSON.stringify(text)}: ${problem}`);
    const ms = parseDuration(text);
    if (ms <= 0) throw new PromQLError(start, 'the range must be positive');
    return ms;
  }

  selector(): Selector {
    this.skipSpace();
    const start = this.at;
    const matchers: LabelMatcher[] = [];
    const name = this.peekIdent();
    if (name !== undefined) {
      if (['by', 'without', 'and', 'or', 'unless', 'offset', 'bool'].includes(name)) throw new PromQLError(start, `unexpected keyword ${JSON.stringify(name)}`);
      this.at += name.length;
      matchers.push({ name: '__name__', type: '=', value: name });
    }
    this.skipSpace();
    if (this.peek() === '{') matchers.push(...this.matcherList());
    if (name === undefined && matchers.length === 0) throw new PromQLError(start, `expected a metric name or '{', found ${this.describe()}`);
    if (name !== undefined && matchers.filter((m) => m.name === '__name__').length > 1) throw new PromQLError(start, 'metric name given twice (before the braces and as __name__)');
    checkNotEmpty(matchers, start);
    const named = matchers.find((m) => m.name === '__name__' && m.type === '=');
    return named ? { matchers, metric: named.value } : { matchers };
  }

  /** `{…}`: the text between the braces (quotes respected) is handed to the contracts' matcher grammar. */
  private matcherList(): LabelMatcher[] {
    const open = this.at;
    let i = open + 1;
    let quoted = false;
    for (; i < this.src.length; i++) {
      const c = this.src[i];
      if (quoted) {
        if (c === '\\') i++;
        else if (c === '"') quoted = false;
      } else if (c === '"') quoted = true;
      else if (c === '}') break;
    }
    if (i >= this.src.length) throw new PromQLError(open, quoted ? 'unterminated string in a label matcher' : "unclosed '{'");
    const body = this.src.slice(open + 1, i).trim().replace(/,\s*$/, '');
    this.at = i + 1;
    if (body === '') return [];
    // The contracts' grammar also takes Alertmanager's unquoted `a=b`; PromQL does not.
    if (!MATCHER_SHAPE.test(body.replace(/"(?:[^"\\]|\\.)*"/g, '""'))) throw new PromQLError(open + 1, 'expected label matchers such as job="api", code=~"5..", label values double-quoted');
    const parsed = parseMatchers(body);
    if (!parsed.ok) throw new PromQLError(open + 1, parsed.error);
    return parsed.matchers.map((m) => {
      if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(m.name)) throw new PromQLError(open + 1, `invalid label name ${JSON.stringify(m.name)}`);
      return m.type === '=~' || m.type === '!~' ? { ...m, regex: anchoredRegExp(m.value) } : { ...m };
    });
  }

  private describe(): string {
    return this.at >= this.src.length ? 'the end of the query' : JSON.stringify(this.src.slice(this.at, this.at + 12));
  }
}
