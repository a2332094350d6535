import type { AggregateWindow, Labels } from '@headroom/contracts';
import type { AlertRule, AlertRuleInput } from '../../contracts/src/alert-rule.schema';
import type { ComparisonOp, Expr } from './ast';

/**
 * The tenant's windows at one evaluation instant (one windowStart). A snapshot must be complete for
 * its instant: a series without a window in it counts as silent. `byMetric` lets a caller that
 * evaluates many rules index the windows once (see `indexSnapshot`).
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

export function compileRule(_rule: AlertRuleInput): CompiledRule {
  throw new Error('not implemented yet');
}

export function indexSnapshot(_at: number, _windows: Iterable<AggregateWindow>): WindowSnapshot {
  throw new Error('not implemented yet');
}
