import { AlertRuleSchema, parseDuration, type AggregateWindow, type AlertRule, type AlertRuleInput, type Labels } from '@headroom/contracts';
import { RuleSyntaxError, RuleValidationError, type ArithmeticOp, type ComparisonOp, type Expr, type Selector, type WindowStat } from './ast';
import { isComparison, parseExpr } from './parser';

/**
 * The tenant's windows at one evaluation instant (one windowStart). A snapshot must be complete for
 * its instant: a series without a window in it counts as silent. `byMetric` lets a caller that
 * evaluates many rules index the windows once (see `indexSnapshot`). Windows of another windowStart
 * are ignored; of several windows of one series, the highest `revision` counts.
 */
export interface WindowSnapshot {
  at: number;
  windows: Iterable<AggregateWindow>;
  byMetric?(name: string): readonly AggregateWindow[];
}

/** One element of a result vector. The metric name is dropped, as PromQL does after functions. */
export interface Sample {
  labels: Labels;
  value: number;
}

export interface CompiledRule {
  readonly rule: AlertRule;
  readonly expr: Expr;
  /** Metric names the expression reads. */
  readonly metrics: readonly string[];
  /** Whether the rule uses absent(): it must be evaluated even at instants without its metrics. */
  readonly readsAbsence: boolean;
  /** `for` in ms, from the rule or a trailing ` for 5m` in the expression (0 = fire at once). */
  readonly forMs: number;
  readonly keepFiringForMs: number;
  /** The top-level `expr > threshold` comparison, if the expression ends in one. */
  readonly comparison?: { op: ComparisonOp; threshold: number };
  readonly resolveThreshold?: number;
  /** The alerting samples at the snapshot's instant. */
  evaluate(snapshot: WindowSnapshot): Sample[];
  /** The samples before the top-level comparison filters them (= evaluate() without one). */
  evaluateRaw(snapshot: WindowSnapshot): Sample[];
}

/**
 * Validates the rule (schema, then expression) and prepares it for evaluation. Throws
 * RuleValidationError (every field problem with its path) or RuleSyntaxError (the first problem
 * in `expr`, with line and column).
 */
export function compileRule(input: AlertRuleInput): CompiledRule {
  const parsed = AlertRuleSchema.safeParse(input);
  if (!parsed.success) throw new RuleValidationError(parsed.error.issues.map((i) => ({ path: i.path.length ? i.path.join('.') : '(root)', message: i.message })));
  const rule = parsed.data;
  const { expr, for: trailingFor } = parseExpr(rule.expr);
  if (trailingFor && rule.for !== undefined)
    throw new RuleSyntaxError(rule.expr, trailingFor.pos, `'for ${trailingFor.text}' here and 'for: ${rule.for}' in the rule: give it in one place`);

  const top = expr.kind === 'binary' && isComparison(expr.op) ? expr : undefined;
  const comparison = top ? { op: top.op as ComparisonOp, threshold: scalar(top.rhs) } : undefined;
  const problem = resolveThresholdProblem(rule.resolveThreshold, comparison);
  if (problem) throw new RuleValidationError([{ path: 'resolveThreshold', message: problem }]);

  const selectors = collectSelectors(expr);
  return {
    rule,
    expr,
    metrics: [...new Set(selectors.map((s) => s.metric))],
    readsAbsence: hasAbsent(expr),
    forMs: trailingFor?.ms ?? (rule.for === undefined ? 0 : parseDuration(rule.for)),
    keepFiringForMs: rule.keepFiringFor === undefined ? 0 : parseDuration(rule.keepFiringFor),
    ...(comparison && { comparison }),
    ...(rule.resolveThreshold !== undefined && { resolveThreshold: rule.resolveThreshold }),
    evaluate: (snapshot) => vector(expr, new Lookup(snapshot)),
    evaluateRaw: (snapshot) => vector(top ? top.lhs : expr, new Lookup(snapshot)),
  };
}

function resolveThresholdProblem(resolve: number | undefined, cmp: CompiledRule['comparison']): string | undefined {
  if (resolve === undefined) return undefined;
  if (!cmp) return 'needs the expression to end in a comparison with a number, such as `> 0.05`';
  if (cmp.op === '==' || cmp.op === '!=') return `has no direction to apply with '${cmp.op}': use > >= < or <=`;
  const up = cmp.op === '>' || cmp.op === '>=';
  if (up && resolve > cmp.threshold) return `must be at or below the firing threshold ${cmp.threshold} for '${cmp.op}'`;
  if (!up && resolve < cmp.threshold) return `must be at or above the firing threshold ${cmp.threshold} for '${cmp.op}'`;
  return undefined;
}

/** A snapshot indexed by metric name once, for a caller that evaluates many rules at one instant. */
export function indexSnapshot(at: number, windows: Iterable<AggregateWindow>): WindowSnapshot {
  const index = indexWindows(at, windows);
  const all = [...index.values()].flat();
  return { at, windows: all, byMetric: (name) => index.get(name) ?? [] };
}

/** The windows at `at`, one per series: the highest revision. */
function latestPerSeries(at: number, windows: Iterable<AggregateWindow>): Iterable<AggregateWindow> {
  const latest = new Map<string, AggregateWindow>();
  for (const w of windows) {
    if (w.windowStart !== at) continue;
    const seen = latest.get(w.seriesId);
    if (!seen || (w.revision ?? 0) > (seen.revision ?? 0)) latest.set(w.seriesId, w);
  }
  return latest.values();
}

function indexWindows(at: number, windows: Iterable<AggregateWindow>): Map<string, AggregateWindow[]> {
  const index = new Map<string, AggregateWindow[]>();
  for (const w of latestPerSeries(at, windows)) {
    const list = index.get(w.series.name);
    if (list) list.push(w);
    else index.set(w.series.name, [w]);
  }
  return index;
}

/** The windows of one evaluation, by metric name; indexes a plain snapshot lazily, once. */
class Lookup {
  private index?: Map<string, AggregateWindow[]>;
  constructor(private readonly snapshot: WindowSnapshot) {}

  select(s: Selector): AggregateWindow[] {
    const { at, byMetric } = this.snapshot;
    const candidates = byMetric ? [...latestPerSeries(at, byMetric(s.metric))] : (this.ownIndex().get(s.metric) ?? []);
    return candidates.filter((w) => w.series.name === s.metric && s.matchers.every((m) => matches(m, w)));
  }

  private ownIndex(): Map<string, AggregateWindow[]> {
    return (this.index ??= indexWindows(this.snapshot.at, this.snapshot.windows));
  }
}

function matches(m: Selector['matchers'][number], w: AggregateWindow): boolean {
  // A label the series lacks matches as the empty string, as in Prometheus.
  const v = m.label === '__name__' ? w.series.name : w.series.labels[m.label] ?? '';
  switch (m.op) {
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

function statOf(w: AggregateWindow, stat: WindowStat): number {
  switch (stat) {
    case 'avg':
      return w.sum / w.count;
    case 'rate':
      return w.count / (w.windowMs / 1000);
    default:
      return w[stat];
  }
}

type Value = number | Sample[];

function vector(e: Expr, lookup: Lookup): Sample[] {
  const v = evalExpr(e, lookup);
  // The parser refuses expressions that yield a constant, so this only guards a hand-built tree.
  if (typeof v === 'number') throw new Error('expression yields a constant, not series');
  return v;
}

function scalar(e: Expr): number {
  const v = evalExpr(e, undefined);
  if (typeof v !== 'number') throw new Error('expected a constant expression');
  return v;
}

function evalExpr(e: Expr, lookup: Lookup | undefined): Value {
  switch (e.kind) {
    case 'number':
      return e.value;
    case 'stat':
      return need(lookup)
        .select(e.selector)
        .map((w) => ({ labels: w.series.labels, value: statOf(w, e.stat) }));
    case 'absent': {
      if (need(lookup).select(e.selector).length > 0) return [];
      const labels: Labels = {};
      for (const m of e.selector.matchers) if (m.op === '=' && m.label !== '__name__') labels[m.label] = m.value;
      return [{ labels, value: 1 }];
    }
    case 'unary': {
      const v = evalExpr(e.expr, lookup);
      return typeof v === 'number' ? -v : v.map((s) => ({ labels: s.labels, value: -s.value }));
    }
    case 'aggregate':
      return aggregate(e, vector(e.expr, need(lookup)));
    case 'binary': {
      const lhs = evalExpr(e.lhs, lookup);
      const rhs = evalExpr(e.rhs, lookup);
      switch (e.op) {
        case 'and':
        case 'or':
        case 'unless':
          return setOperation(e.op, lhs as Sample[], rhs as Sample[]);
        case '+':
        case '-':
        case '*':
        case '/':
          return arithmetic(e.op, lhs, rhs);
        default:
          // The parser guarantees series on the left, a number on the right.
          return (lhs as Sample[]).filter((s) => compare(e.op as ComparisonOp, s.value, rhs as number));
      }
    }
  }
}

function need(lookup: Lookup | undefined): Lookup {
  if (!lookup) throw new Error('a constant expression cannot read series');
  return lookup;
}

export function compare(op: ComparisonOp, a: number, b: number): boolean {
  switch (op) {
    case '>':
      return a > b;
    case '>=':
      return a >= b;
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '==':
      return a === b;
    case '!=':
      return a !== b;
  }
}

function apply(op: ArithmeticOp, a: number, b: number): number {
  switch (op) {
    case '+':
      return a + b;
    case '-':
      return a - b;
    case '*':
      return a * b;
    case '/':
      return a / b;
  }
}

/** Identity of a label set, independent of key order. */
export function labelsKey(labels: Labels): string {
  return JSON.stringify(
    Object.keys(labels)
      .sort()
      .map((k) => [k, labels[k]]),
  );
}

/** One-to-one matching on identical label sets, as PromQL does without on()/ignoring(). */
function arithmetic(op: ArithmeticOp, lhs: Value, rhs: Value): Value {
  if (typeof lhs === 'number' && typeof rhs === 'number') return apply(op, lhs, rhs);
  if (typeof rhs === 'number') return (lhs as Sample[]).map((s) => ({ labels: s.labels, value: apply(op, s.value, rhs) }));
  if (typeof lhs === 'number') return rhs.map((s) => ({ labels: s.labels, value: apply(op, lhs, s.value) }));
  const right = new Map(rhs.map((s) => [labelsKey(s.labels), s]));
  const out: Sample[] = [];
  for (const l of lhs) {
    const r = right.get(labelsKey(l.labels));
    if (r) out.push({ labels: l.labels, value: apply(op, l.value, r.value) });
  }
  return out;
}

function setOperation(op: 'and' | 'or' | 'unless', lhs: Sample[], rhs: Sample[]): Sample[] {
  const right = new Set(rhs.map((s) => labelsKey(s.labels)));
  if (op === 'and') return lhs.filter((s) => right.has(labelsKey(s.labels)));
  if (op === 'unless') return lhs.filter((s) => !right.has(labelsKey(s.labels)));
  const left = new Set(lhs.map((s) => labelsKey(s.labels)));
  return [...lhs, ...rhs.filter((s) => !left.has(labelsKey(s.labels)))];
}

function aggregate(e: Expr & { kind: 'aggregate' }, input: Sample[]): Sample[] {
  const listed = new Set(e.grouping.labels);
  const groups = new Map<string, { labels: Labels; values: number[] }>();
  for (const s of input) {
    const labels: Labels = {};
    for (const [k, v] of Object.entries(s.labels)) if (listed.has(k) === (e.grouping.mode === 'by')) labels[k] = v;
    const key = labelsKey(labels);
    const g = groups.get(key);
    if (g) g.values.push(s.value);
    else groups.set(key, { labels, values: [s.value] });
  }
  return [...groups.values()].map(({ labels, values }) => ({ labels, value: reduce(e.op, values) }));
}

function reduce(op: (Expr & { kind: 'aggregate' })['op'], values: number[]): number {
  switch (op) {
    case 'sum':
      return values.reduce((a, b) => a + b, 0);
    case 'avg':
      return values.reduce((a, b) => a + b, 0) / values.length;
    case 'min':
      return values.reduce((a, b) => Math.min(a, b));
    case 'max':
      return values.reduce((a, b) => Math.max(a, b));
    case 'count':
      return values.length;
  }
}

function collectSelectors(e: Expr): Selector[] {
  switch (e.kind) {
    case 'stat':
    case 'absent':
      return [e.selector];
    case 'unary':
    case 'aggregate':
      return collectSelectors(e.expr);
    case 'binary':
      return [...collectSelectors(e.lhs), ...collectSelectors(e.rhs)];
    default:
      return [];
  }
}

function hasAbsent(e: Expr): boolean {
  switch (e.kind) {
    case 'absent':
      return true;
    case 'unary':
    case 'aggregate':
      return hasAbsent(e.expr);
    case 'binary':
      return hasAbsent(e.lhs) || hasAbsent(e.rhs);
    default:
      return false;
  }
}
