/** Syntax tree of a rule expression. `pos` is the 0-based offset of the node's first character. */

export type MatchOp = '=' | '!=' | '=~' | '!~';
export type ArithmeticOp = '+' | '-' | '*' | '/';
export type ComparisonOp = '>' | '>=' | '<' | '<=' | '==' | '!=';
export type SetOp = 'and' | 'or' | 'unless';
export type BinaryOp = ArithmeticOp | ComparisonOp | SetOp;

/** Statistics of one window of one series (`avg` = sum/count, `rate` = count per second). */
export const WINDOW_STATS = ['p50', 'p95', 'p99', 'min', 'max', 'avg', 'count', 'sum', 'rate'] as const;
export type WindowStat = (typeof WINDOW_STATS)[number];

/** Aggregations across series. */
export const AGGREGATIONS = ['sum', 'avg', 'min', 'max', 'count'] as const;
export type Aggregation = (typeof AGGREGATIONS)[number];

export interface LabelMatcher {
  label: string;
  op: MatchOp;
  value: string;
  /** For `=~` and `!~`: the value compiled, anchored at both ends as in Prometheus. */
  regex?: RegExp;
}

export interface Selector {
  kind: 'selector';
  metric: string;
  matchers: LabelMatcher[];
  pos: number;
}

export type Expr =
  | { kind: 'number'; value: number; pos: number }
  | { kind: 'stat'; stat: WindowStat; selector: Selector; pos: number }
  | { kind: 'absent'; selector: Selector; pos: number }
  | { kind: 'aggregate'; op: Aggregation; grouping: Grouping; expr: Expr; pos: number }
  | { kind: 'unary'; op: '-'; expr: Expr; pos: number }
  | { kind: 'binary'; op: BinaryOp; lhs: Expr; rhs: Expr; pos: number };

/** `by (a, b)` keeps only those labels; `without (a)` drops them; no clause = `by ()`. */
export interface Grouping {
  mode: 'by' | 'without';
  labels: string[];
}

export interface ParsedExpr {
  expr: Expr;
  /** A trailing ` for 5m` in the expression, in milliseconds, with the offset of its `for`. */
  for?: { ms: number; text: string; pos: number };
}

/**
 * A rule expression that does not parse or type-check. `line` and `column` are 1-based;
 * `toString()` shows the expression with a caret under the column.
 */
export class RuleSyntaxError extends Error {
  override readonly name = 'RuleSyntaxError';
  readonly line: number;
  readonly column: number;
  /** The message without the position, as a form field would show it. */
  readonly reason: string;

  constructor(
    readonly source: string,
    readonly offset: number,
    reason: string,
  ) {
    const { line, column } = lineColumn(source, offset);
    super(`${line}:${column}: ${reason}`);
    this.line = line;
    this.column = column;
    this.reason = reason;
  }

  override toString(): string {
    const text = this.source.split('\n')[this.line - 1] ?? '';
    return `${this.name}: ${this.message}\n  ${text}\n  ${' '.repeat(this.column - 1)}^`;
  }
}

/** A rule whose fields (other than the expression's syntax) are invalid, each problem with its field path. */
export class RuleValidationError extends Error {
  override readonly name = 'RuleValidationError';
  constructor(readonly issues: ReadonlyArray<{ path: string; message: string }>) {
    super(issues.map((i) => `${i.path}: ${i.message}`).join('; '));
  }
}

function lineColumn(source: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < source.length; i++) {
    if (source[i] === '\n') {
      line++;
      lineStart = i + 1;
    }
  }
  // Columns count code points, so a caret lines up after non-ASCII label values.
  return { line, column: [...source.slice(lineStart, offset)].length + 1 };
}
