import { createHash } from 'node:crypto';
import type { AggregateWindow, Labels, ThresholdRule } from '@headroom/contracts';

/** One rule applied to one window of one series. */
export interface RuleEvaluation {
  rule: ThresholdRule;
  /** Identifies the alert: same rule + same series = same alert, across windows, restarts and instances. */
  fingerprint: string;
  series: { name: string; labels: Labels };
  /** The window's value for the rule's stat. */
  value: number;
  /** Whether the rule's condition holds for this window. */
  breached: boolean;
  windowStart: number;
  windowEnd: number;
}

/**
 * Stable across processes: sha256 of rule id, metric name and labels sorted by name. The tenant is
 * not part of it on purpose: alert state and the notification log are already keyed by tenant.
 */
export function alertFingerprint(ruleId: string, seriesName: string, labels: Labels): string {
  const sorted = Object.keys(labels)
    .sort()
    .map((k) => [k, labels[k]]);
  return createHash('sha256').update(JSON.stringify([ruleId, seriesName, sorted])).digest('hex').slice(0, 32);
}

export function statValue(window: AggregateWindow, stat: ThresholdRule['stat']): number {
  switch (stat) {
    case 'avg':
      return window.sum / window.count;
    case 'count':
      return window.count;
    default:
      return window[stat];
  }
}

export function conditionHolds(value: number, op: ThresholdRule['op'], threshold: number): boolean {
  switch (op) {
    case '>':
      return value > threshold;
    case '>=':
      return value >= threshold;
    case '<':
      return value < threshold;
    case '<=':
      return value <= threshold;
  }
}

/**
 * Pure: applies the tenant's rules to one window. Only rules on the window's metric produce an
 * evaluation; the caller passes the rules of the window's own tenant, never anyone else's.
 */
export function evaluateWindow(window: AggregateWindow, rules: readonly ThresholdRule[]): RuleEvaluation[] {
  const out: RuleEvaluation[] = [];
  for (const rule of rules) {
    if (rule.metric !== window.series.name) continue;
    const value = statValue(window, rule.stat);
    out.push({
      rule,
      fingerprint: alertFingerprint(rule.id, window.series.name, window.series.labels),
      series: window.series,
      value,
      breached: conditionHolds(value, rule.op, rule.threshold),
      windowStart: window.windowStart,
      windowEnd: window.windowStart + window.windowMs,
    });
  }
  return out;
}
