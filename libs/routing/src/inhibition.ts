/**
 * Inhibition as Alertmanager's inhibit.go decides it: a target alert is muted while a firing alert
 * matches the rule's source side and agrees with it on every `equal` label (both missing counts as
 * equal). When the target matches the source side too, sources that also match the target side
 * are not counted: otherwise alerts matching both sides would mute one another, and an alert
 * itself.
 */
import type { InhibitRuleConfig } from '@headroom/contracts';
import { matches, parseMatcherLines, type Labels, type Matcher } from './matchers';

export interface InhibitRule {
  readonly sourceMatchers: readonly Matcher[];
  readonly targetMatchers: readonly Matcher[];
  readonly equal: readonly string[];
}

export interface Inhibition {
  /** Index of the rule in the list given. */
  readonly ruleIndex: number;
  /** Labels of the firing alert that mutes the target. */
  readonly source: Labels;
}

/** An `inhibit_rules` entry as configured (`equal` may be left out). */
export type InhibitRuleInput = Pick<InhibitRuleConfig, 'source_matchers' | 'target_matchers'> & { readonly equal?: readonly string[] };

/** Throws MatcherSyntaxError on a bad matcher (AlertRoutingSchema has refused those already). */
export function compileInhibitRules(rules: readonly InhibitRuleInput[]): InhibitRule[] {
  return rules.map((r) => ({
    sourceMatchers: parseMatcherLines(r.source_matchers),
    targetMatchers: parseMatcherLines(r.target_matchers),
    equal: [...(r.equal ?? [])],
  }));
}

/** The first rule and firing alert that mute `target`, or undefined. `firing` holds firing alerts only. */
export function findInhibition(target: Labels, firing: readonly Labels[], rules: readonly InhibitRule[]): Inhibition | undefined {
  for (const [ruleIndex, rule] of rules.entries()) {
    if (!matches(rule.targetMatchers, target)) continue;
    const twoSided = matches(rule.sourceMatchers, target);
    for (const source of firing) {
      if (!matches(rule.sourceMatchers, source)) continue;
      if (!rule.equal.every((n) => (source[n] ?? '') === (target[n] ?? ''))) continue;
      if (twoSided && matches(rule.targetMatchers, source)) continue;
      return { ruleIndex, source };
    }
  }
  return undefined;
}

export function isInhibited(target: Labels, firing: readonly Labels[], rules: readonly InhibitRule[]): boolean {
  return findInhibition(target, firing, rules) !== undefined;
}
