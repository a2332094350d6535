/*
 * Hand-written recursive descent, on purpose: the maintained PromQL parsers for Node
 * (@prometheus-io/lezer-promql, the grammar behind the Prometheus UI) parse full PromQL, where
 * `p95(x)` is an unknown function, `sum(x)` always aggregates and ` for 5m` is not syntax; they
 * report errors as error nodes in a tree, not as a message at a line and column. This subset is
 * small enough that owning it costs less than bending one of them to it.
 */
import { durationProblem, parseDuration } from '@headroom/contracts';
import {
  AGGREGATIONS,
  RuleSyntaxError,
  WINDOW_STATS,
  type Aggregation,
  type BinaryOp,
  type ComparisonOp,
  type Expr,
  type Grouping,
  type LabelMatcher,
  type MatchOp,
  type ParsedExpr,
  type Selector,
  type WindowStat,
} from './ast';

type TokenKind = 'ident' | 'number' | 'duration' | 'string' | 'op' | 'punct' | 'eof';
interface Token {
  kind: TokenKind;
  text: string;
  pos: number;
  /** Strings: the unescaped value. */
  value?: string;
}

const IDENT = /[a-zA-Z_:][a-zA-Z0-9_:]*/y;
const DURATION = /(?:\d+(?:ms|[smhdwy]))+(?![a-zA-Z0-9_:.])/y;
const NUMBER = /(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?(?![a-zA-Z0-9_:.])/y;
const OPERATORS = ['>=', '<=', '==', '!=', '=~', '!~', '>', '<', '=', '+', '-', '*', '/'];
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const COMPARISONS: readonly string[] = ['>', '>=', '<', '<=', '==', '!='];
const MAX_NESTING = 64;
const MAX_REGEX_LENGTH = 512;

function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const sticky = (re: RegExp) => {
    re.lastIndex = i;
    const m = re.exec(src);
    return m ? m[0] : undefined;
  };
  while (i < src.length) {
    const c = src[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    // PromQL comments run to the end of the line.
    if (c === '#') {
      while (i < src.length && src[i] !== '\n') i++;
      continue;
    }
    if (c === '"' || c === "'") {
      const t = readString(src, i);
      tokens.push(t);
      i += t.text.length;
      continue;
    }
    let text: string | undefined;
    if (/[0-9.]/.test(c)) {
      if ((text = sticky(DURATION))) tokens.push({ kind: 'duration', text, pos: i });
      else if ((text = sticky(NUMBER))) tokens.push({ kind: 'number', text, pos: i });
      else throw new RuleSyntaxError(src, i, `malformed number ${JSON.stringify(src.slice(i).match(/^[0-9a-zA-Z_.:]+/)?.[0] ?? c)}`);
    } else if ((text = sticky(IDENT))) tokens.push({ kind: 'ident', text, pos: i });
    else if ((text = OPERATORS.find((op) => src.startsWith(op, i)))) tokens.push({ kind: 'op', text, pos: i });
    else if ('(){},'.includes(c)) tokens.push({ kind: 'punct', text: (text = c), pos: i });
    else if (c === '[') throw new RuleSyntaxError(src, i, 'range selectors ([5m]) are not supported: each evaluation reads the windows of one instant');
    else throw new RuleSyntaxError(src, i, `unexpected character ${JSON.stringify(c)}`);
    i += text.length;
  }
  tokens.push({ kind: 'eof', text: '', pos: src.length });
  return tokens;
}

function readString(src: string, start: number): Token {
  const quote = src[start];
  let value = '';
  for (let i = start + 1; i < src.length; i++) {
    const c = src[i];
    if (c === quote) return { kind: 'string', text: src.slice(start, i + 1), pos: start, value };
    if (c === '\n') break;
    if (c !== '\\') {
      value += c;
      continue;
    }
    const e = src[++i];
    if (e === '\\' || e === '"' || e === "'") value += e;
    else if (e === 'n') value += '\n';
    else if (e === 't') value += '\t';
    else throw new RuleSyntaxError(src, i - 1, `unknown escape \\${e ?? ''} in a string (write \\\\ for a backslash, as in "a\\\\.b")`);
  }
  throw new RuleSyntaxError(src, start, 'unterminated string');
}

/** Parses and type-checks a rule expression; throws RuleSyntaxError with the position of the first problem. */
export function parseExpr(source: string): ParsedExpr {
  return new Parser(source).parseRule();
}

type Type = 'scalar' | 'vector';
/** While parsing, a bare selector is a node of its own: only a window statistic or absent() may take one. */
type Node = Expr | Selector;

class Parser {
  private readonly tokens: Token[];
  private at = 0;
  private depth = 0;

  constructor(private readonly src: string) {
    this.tokens = tokenize(src);
  }

  parseRule(): ParsedExpr {
    const node = this.parseOr();
    const expr = this.checkValue(node);
    if (this.typeOf(expr) !== 'vector') this.fail(expr.pos, 'the expression yields a constant: it must read at least one metric');
    let forClause: ParsedExpr['for'];
    if (this.isIdent('for')) {
      const forTok = this.next();
      const d = this.peek();
      if (d.kind !== 'duration' && !(d.kind === 'number' && d.text === '0')) this.fail(d.pos, "expected a duration such as 5m or 1h30m after 'for'");
      this.next();
      const problem = durationProblem(d.text);
      if (problem) this.fail(d.pos, `invalid duration ${d.text}: ${problem}`);
      forClause = { ms: parseDuration(d.text), text: d.text, pos: forTok.pos };
    }
    const end = this.peek();
    if (end.kind !== 'eof') this.fail(end.pos, `unexpected ${describe(end)}`);
    return forClause ? { expr, for: forClause } : { expr };
  }

  // Precedence, loosest first, as in PromQL: or; and unless; comparisons; + -; * /; unary.
  private parseOr(): Node {
    return this.binaryLevel(['or'], () => this.parseAnd());
  }
  private parseAnd(): Node {
    return this.binaryLevel(['and', 'unless'], () => this.parseComparison());
  }
  private parseComparison(): Node {
    return this.binaryLevel(COMPARISONS, () => this.parseAdditive());
  }
  private parseAdditive(): Node {
    return this.binaryLevel(['+', '-'], () => this.parseMultiplicative());
  }
  private parseMultiplicative(): Node {
    return this.binaryLevel(['*', '/'], () => this.parseUnary());
  }

  private binaryLevel(ops: readonly string[], operand: () => Node): Node {
    let lhs = operand();
    for (;;) {
      const t = this.peek();
      const isOp = (t.kind === 'op' || t.kind === 'ident') && ops.includes(t.text);
      if (!isOp) return lhs;
      this.next();
      const rhs = operand();
      lhs = this.binary(t.text as BinaryOp, t.pos, lhs, rhs);
    }
  }

  /** `pos` is the operator's, for errors; the node's own is its left operand's. */
  private binary(op: BinaryOp, pos: number, lhsNode: Node, rhsNode: Node): Expr {
    const lhs = this.checkValue(lhsNode);
    const rhs = this.checkValue(rhsNode);
    const [lt, rt] = [this.typeOf(lhs), this.typeOf(rhs)];
    if (op === 'and' || op === 'or' || op === 'unless') {
      if (lt !== 'vector' || rt !== 'vector') this.fail(pos, `'${op}' needs series on both sides, not a number`);
    } else if (COMPARISONS.includes(op)) {
      if (lt !== 'vector') this.fail(pos, `comparison '${op}' needs series on its left (write e.g. avg(x) ${op} 5)`);
      if (rt !== 'scalar') this.fail(pos, `comparison '${op}' needs a number on its right: comparing series with series is not supported`);
    }
    return { kind: 'binary', op, lhs, rhs, pos: lhs.pos };
  }

  private parseUnary(): Node {
    const t = this.peek();
    if (t.kind === 'op' && (t.text === '-' || t.text === '+')) {
      this.next();
      const inner = this.checkValue(this.parseUnary());
      return t.text === '+' ? inner : { kind: 'unary', op: '-', expr: inner, pos: t.pos };
    }
    return this.parsePrimary();
  }

  private parsePrimary(): Node {
    const t = this.peek();
    if (t.kind === 'number') {
      this.next();
      return { kind: 'number', value: Number(t.text), pos: t.pos };
    }
    if (this.isPunct('(')) {
      this.nest(t.pos);
      this.next();
      const inner = this.parseOr();
      this.expectPunct(')');
      this.depth--;
      return inner;
    }
    if (this.isPunct('{')) this.fail(t.pos, 'a selector needs a metric name before {');
    if (t.kind !== 'ident') this.fail(t.pos, `expected an expression, found ${describe(t)}`);

    const after = this.peek(1);
    const name = t.text;
    if (isAggregation(name) && after.kind === 'ident' && (after.text === 'by' || after.text === 'without')) {
      this.next();
      const grouping = this.parseGrouping();
      return this.parseAggregationBody(name as Aggregation, t.pos, grouping);
    }
    if (after.kind === 'punct' && after.text === '(') {
      if (name === 'absent') return this.parseSelectorCall(t, (selector) => ({ kind: 'absent', selector, pos: t.pos }));
      if (isAggregation(name)) return this.parseAmbiguousCall(t);
      if (isWindowStat(name)) return this.parseSelectorCall(t, (selector) => ({ kind: 'stat', stat: name as WindowStat, selector, pos: t.pos }));
      this.fail(t.pos, `unknown function ${name}(): use one of ${[...WINDOW_STATS, 'absent'].join(', ')}`);
    }
    if (['by', 'without', 'and', 'or', 'unless', 'for'].includes(name)) this.fail(t.pos, `expected an expression, found '${name}'`);
    return this.parseSelector();
  }

  /** `p95(selector)`, `absent(selector)`: the argument must be a selector. */
  private parseSelectorCall(fn: Token, build: (s: Selector) => Expr): Expr {
    this.next();
    this.expectPunct('(');
    const arg = this.peek();
    if (arg.kind !== 'ident' || this.peek(1).text === '(') this.fail(arg.pos, `${fn.text}() takes a selector such as ${fn.text}(http_requests{code="500"})`);
    const selector = this.parseSelector();
    this.expectPunct(')');
    return build(selector);
  }

  /**
   * `sum(...)` and its kin: applied directly to a selector it is the window statistic of each series;
   * applied to anything else it aggregates across series (as `sum by () (...)`).
   */
  private parseAmbiguousCall(fn: Token): Expr {
    const name = fn.text as Aggregation;
    const arg = this.peek(2);
    const argIsSelector = arg.kind === 'ident' && !(this.peek(3).kind === 'punct' && this.peek(3).text === '(') && !(isAggregation(arg.text) && ['by', 'without'].includes(this.peek(3).text));
    if (argIsSelector) {
      const stat: Expr = this.parseSelectorCall(fn, (selector) => ({ kind: 'stat', stat: name, selector, pos: fn.pos }));
      if (this.isIdent('by') || this.isIdent('without'))
        this.fail(this.peek().pos, `${name}(selector) is the window statistic of each series; to aggregate across series write ${name} by (...) (${name}(selector))`);
      return stat;
    }
    this.next();
    const agg = this.parseAggregationBody(name, fn.pos, { mode: 'by', labels: [] });
    // PromQL also takes the grouping after the argument: sum(avg(x)) by (job).
    if (this.isIdent('by') || this.isIdent('without')) agg.grouping = this.parseGrouping();
    return agg;
  }

  private parseAggregationBody(op: Aggregation, pos: number, grouping: Grouping): Expr & { kind: 'aggregate' } {
    const open = this.peek();
    this.expectPunct('(');
    this.nest(open.pos);
    const inner = this.checkValue(this.parseOr());
    if (this.typeOf(inner) !== 'vector') this.fail(inner.pos, `${op} aggregates series, not a number`);
    this.expectPunct(')');
    this.depth--;
    return { kind: 'aggregate', op, grouping, expr: inner, pos };
  }

  private parseGrouping(): Grouping {
    const mode = this.next().text as Grouping['mode'];
    this.expectPunct('(');
    const labels: string[] = [];
    while (!this.isPunct(')')) {
      const l = this.peek();
      if (l.kind !== 'ident' || !LABEL_NAME.test(l.text)) this.fail(l.pos, `expected a label name, found ${describe(l)}`);
      this.next();
      labels.push(l.text);
      if (!this.isPunct(',')) break;
      this.next();
    }
    this.expectPunct(')');
    return { mode, labels };
  }

  private parseSelector(): Selector {
    const t = this.next();
    if (t.kind !== 'ident') this.fail(t.pos, `expected a metric name, found ${describe(t)}`);
    const matchers: LabelMatcher[] = [];
    if (this.isPunct('{')) {
      this.next();
      while (!this.isPunct('}')) {
        matchers.push(this.parseMatcher());
        if (!this.isPunct(',')) break;
        this.next();
      }
      this.expectPunct('}');
    }
    return { kind: 'selector', metric: t.text, matchers, pos: t.pos };
  }

  private parseMatcher(): LabelMatcher {
    const l = this.next();
    if (l.kind !== 'ident' || !LABEL_NAME.test(l.text)) this.fail(l.pos, `expected a label name, found ${describe(l)}`);
    const op = this.next();
    if (op.kind !== 'op' || !['=', '!=', '=~', '!~'].includes(op.text)) this.fail(op.pos, `expected one of = != =~ !~ after label ${l.text}, found ${describe(op)}`);
    const v = this.next();
    if (v.kind !== 'string') this.fail(v.pos, `expected a quoted string after ${l.text}${op.text}, found ${describe(v)}`);
    const matcher: LabelMatcher = { label: l.text, op: op.text as MatchOp, value: v.value ?? '' };
    if (op.text === '=~' || op.text === '!~') matcher.regex = this.compileRegex(matcher.value, v.pos);
    return matcher;
  }

  /** Anchored at both ends, as Prometheus does; refuses what RE2 lacks and what backtracks exponentially. */
  private compileRegex(pattern: string, pos: number): RegExp {
    if (pattern.length > MAX_REGEX_LENGTH) this.fail(pos, `regex longer than ${MAX_REGEX_LENGTH} characters`);
    const problem = regexProblem(pattern);
    if (problem) this.fail(pos, `regex ${JSON.stringify(pattern)}: ${problem}`);
    try {
      return new RegExp(`^(?:${pattern})$`);
    } catch (e) {
      return this.fail(pos, `invalid regex ${JSON.stringify(pattern)}: ${(e as Error).message.replace(/^Invalid regular expression: /, '')}`);
    }
  }

  private checkValue(node: Node): Expr {
    if (node.kind === 'selector')
      this.fail(node.pos, `${node.metric} needs a window statistic: write avg(${node.metric}), p95(${node.metric}), count(${node.metric}), ... (a window holds several)`);
    return node;
  }

  private typeOf(e: Expr): Type {
    switch (e.kind) {
      case 'number':
        return 'scalar';
      case 'unary':
        return this.typeOf(e.expr);
      case 'binary':
        return this.typeOf(e.lhs) === 'scalar' && this.typeOf(e.rhs) === 'scalar' ? 'scalar' : 'vector';
      default:
        return 'vector';
    }
  }

  private nest(pos: number): void {
    if (++this.depth > MAX_NESTING) this.fail(pos, `nested deeper than ${MAX_NESTING} levels`);
  }

  private peek(ahead = 0): Token {
    return this.tokens[Math.min(this.at + ahead, this.tokens.length - 1)];
  }
  private next(): Token {
    const t = this.peek();
    if (t.kind !== 'eof') this.at++;
    return t;
  }
  private isPunct(p: string): boolean {
    const t = this.peek();
    return t.kind === 'punct' && t.text === p;
  }
  private isIdent(name: string): boolean {
    const t = this.peek();
    return t.kind === 'ident' && t.text === name;
  }
  private expectPunct(p: string): void {
    const t = this.peek();
    if (t.kind !== 'punct' || t.text !== p) this.fail(t.pos, `expected '${p}', found ${describe(t)}`);
    this.next();
  }
  private fail(pos: number, message: string): never {
    throw new RuleSyntaxError(this.src, pos, message);
  }
}

const isAggregation = (name: string) => (AGGREGATIONS as readonly string[]).includes(name);
const isWindowStat = (name: string) => (WINDOW_STATS as readonly string[]).includes(name);
export const isComparison = (op: BinaryOp): op is ComparisonOp => COMPARISONS.includes(op);

function describe(t: Token): string {
  return t.kind === 'eof' ? 'the end of the expression' : `'${t.text}'`;
}

/**
 * Rejects what JavaScript regexes have and RE2 (Prometheus) does not: lookaround and backreferences;
 * and a quantified group that itself holds an unbounded quantifier (`(a+)+`), the usual shape of
 * catastrophic backtracking — one tenant's rule must not stall the evaluator for all of them.
 */
function regexProblem(p: string): string | undefined {
  if (/\(\?<?[=!]/.test(p)) return 'lookahead and lookbehind are not supported (RE2 syntax, as in Prometheus)';
  if (/\\[1-9]|\\k</.test(p)) return 'backreferences are not supported (RE2 syntax, as in Prometheus)';
  const groups: boolean[] = [];
  let inner = false;
  let inClass = false;
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') inClass = true;
    else if (c === '(') {
      groups.push(inner);
      inner = false;
    } else if (c === ')') {
      const groupHasQuantifier: boolean = inner;
      inner = (groups.pop() ?? false) || groupHasQuantifier;
      const q = p[i + 1];
      if (groupHasQuantifier && (q === '*' || q === '+' || q === '{')) return 'a repeated group that itself repeats (like (a+)+) can take exponential time; simplify it';
    } else if (c === '*' || c === '+' || (c === '{' && /^\{\d+,\d*\}/.test(p.slice(i)))) inner = true;
  }
  return undefined;
}
