import { createHash } from 'node:crypto';
import type { Labels } from '@headroom/contracts';
import { compare, type CompiledRule, type WindowSnapshot } from './evaluate';

/**
 * What is remembered of one active alert instance between instants: small and JSON-serialisable,
 * so it can live in Redis. An inactive alert has no state at all.
 */
export interface AlertState {
  status: 'pending' | 'firing';
  labels: Labels;
  /** Instant the condition started to hold (pending since). */
  activeAt: number;
  firedAt?: number;
  /** First instant the condition stopped holding while firing: keepFiringFor counts from it. */
  keepFiringSince?: number;
  /** Last instant evaluated: instants at or before it are stale. */
  lastEvalAt: number;
  /** Last value seen while the condition held; null when it was not finite (NaN and ±Inf do not survive JSON). */
  value: number | null;
}

export interface Transition {
  kind: 'pending' | 'firing' | 'resolved';
  ruleId: string;
  fingerprint: string;
  /** The series' labels (metric name dropped); the rule's own labels are the dispatcher's to add. */
  labels: Labels;
  value: number | null;
  /** The evaluation instant (windowStart) at which the transition happened. */
  at: number;
  activeAt: number;
  firedAt?: number;
  resolvedAt?: number;
}

/** One alert instance at one instant. */
export interface Observation {
  at: number;
  labels: Labels;
  /** Undefined when the instance has no sample at this instant (its series sent nothing, or was filtered out). */
  value?: number;
  /** The firing condition holds (value beyond the firing threshold). */
  fires: boolean;
  /** The condition that keeps a firing alert firing: beyond resolveThreshold with hysteresis, else `fires`. */
  holdsWhileFiring: boolean;
}

export interface LifecycleTiming {
  forMs: number;
  keepFiringForMs: number;
}

export type Step = { kind: 'stale' } | { kind: 'advance'; next: AlertState | null; transition?: Transition };

/**
 * Sha256 of the rule id and the labels sorted by name, 32 hex chars: the same instance across
 * instants, restarts and replicas. The tenant is not in it: state is already kept per tenant.
 */
export function alertFingerprint(ruleId: string, labels: Labels): string {
  const sorted = Object.keys(labels)
    .sort()
    .map((k) => [k, labels[k]]);
  return createHash('sha256').update(JSON.stringify([ruleId, sorted])).digest('hex').slice(0, 32);
}

const finite = (v: number | undefined): number | null => (v !== undefined && Number.isFinite(v) ? v : null);

/**
 * The Prometheus alerting-rule lifecycle of one instance, pure. inactive → pending when the
 * condition holds → firing once it has held for `forMs` (at once when 0) → when it stops holding,
 * firing on for `keepFiringForMs` counted from the first instant it did not hold → resolved, which
 * is inactive again. A pending alert whose condition stops just goes back to inactive, silently.
 * An instant at or before the last one evaluated is stale: replays never flap an alert.
 */
export function stepAlert(state: AlertState | null | undefined, obs: Observation, timing: LifecycleTiming, ids: { ruleId: string; fingerprint: string }): Step {
  if (state && obs.at <= state.lastEvalAt) return { kind: 'stale' };
  const at = obs.at;
  const base = { ruleId: ids.ruleId, fingerprint: ids.fingerprint, at };

  if (!state) {
    if (!obs.fires) return { kind: 'advance', next: null };
    const value = finite(obs.value);
    if (timing.forMs <= 0) {
      return {
        kind: 'advance',
        next: { status: 'firing', labels: obs.labels, activeAt: at, firedAt: at, lastEvalAt: at, value },
        transition: { ...base, kind: 'firing', labels: obs.labels, value, activeAt: at, firedAt: at },
      };
    }
    return {
      kind: 'advance',
      next: { status: 'pending', labels: obs.labels, activeAt: at, lastEvalAt: at, value },
      transition: { ...base, kind: 'pending', labels: obs.labels, value, activeAt: at },
    };
  }

  if (state.status === 'pending') {
    if (!obs.fires) return { kind: 'advance', next: null };
    const value = finite(obs.value) ?? state.value;
    if (at - state.activeAt >= timing.forMs) {
      return {
        kind: 'advance',
        next: { ...state, status: 'firing', firedAt: at, lastEvalAt: at, value },
        transition: { ...base, kind: 'firing', labels: state.labels, value, activeAt: state.activeAt, firedAt: at },
      };
    }
    return { kind: 'advance', next: { ...state, lastEvalAt: at, value } };
  }

  if (obs.holdsWhileFiring) {
    const { keepFiringSince: _cleared, ...rest } = state;
    return { kind: 'advance', next: { ...rest, lastEvalAt: at, value: finite(obs.value) ?? state.value } };
  }
  const since = state.keepFiringSince ?? at;
  if (at - since < timing.keepFiringForMs) return { kind: 'advance', next: { ...state, keepFiringSince: since, lastEvalAt: at } };
  return {
    kind: 'advance',
    next: null,
    transition: {
      ...base,
      kind: 'resolved',
      labels: state.labels,
      value: state.value,
      activeAt: state.activeAt,
      ...(state.firedAt !== undefined && { firedAt: state.firedAt }),
      resolvedAt: at,
    },
  };
}

/** Everything a RuleEvaluator holds, per rule id (JSON-serialisable, to persist and restore). */
export interface RuleEvaluatorState {
  rules: Record<string, { lastAt: number; alerts: Record<string, AlertState> }>;
}

/** The outcome of one rule at one instant, not yet applied: commit() once its side effects succeeded. */
export interface EvaluationPlan {
  transitions: Transition[];
  /** Active alerts (pending or firing) after this instant, by fingerprint. */
  alerts: ReadonlyMap<string, AlertState>;
  commit(): void;
}

interface RuleAlerts {
  /** Last instant evaluated for the rule: covers inactive instances too, which keep no state. */
  lastAt: number;
  alerts: Map<string, AlertState>;
}

/**
 * The alert instances of one tenant's rules, in memory. Each evaluation looks at every instance
 * the rule knows: one without a sample at this instant (its series sent no window, or its value
 * is no longer beyond the threshold) does not hold.
 */
export class RuleEvaluator {
  private readonly rules = new Map<string, RuleAlerts>();

  constructor(state?: RuleEvaluatorState) {
    for (const [id, r] of Object.entries(state?.rules ?? {})) this.rules.set(id, { lastAt: r.lastAt, alerts: new Map(Object.entries(r.alerts)) });
  }

  evaluate(compiled: CompiledRule, snapshot: WindowSnapshot): Transition[] {
    const plan = this.plan(compiled, snapshot);
    plan.commit();
    return plan.transitions;
  }

  plan(compiled: CompiledRule, snapshot: WindowSnapshot): EvaluationPlan {
    const ruleId = compiled.rule.id;
    const current = this.rules.get(ruleId);
    if (current && snapshot.at <= current.lastAt) return { transitions: [], alerts: current.alerts, commit: () => undefined };

    const { comparison, resolveThreshold } = compiled;
    const observed = new Map<string, Observation>();
    for (const s of compiled.evaluateRaw(snapshot)) {
      const fires = comparison ? compare(comparison.op, s.value, comparison.threshold) : true;
      const holdsWhileFiring = comparison ? compare(comparison.op, s.value, resolveThreshold ?? comparison.threshold) : true;
      // A sample that holds neither way counts as no sample: no need to hash its labels.
      if (!fires && !holdsWhileFiring) continue;
      observed.set(alertFingerprint(ruleId, s.labels), { at: snapshot.at, labels: s.labels, value: s.value, fires, holdsWhileFiring });
    }

    const timing = { forMs: compiled.forMs, keepFiringForMs: compiled.keepFiringForMs };
    const next = new Map<string, AlertState>();
    const transitions: Transition[] = [];
    const visit = (fingerprint: string, state: AlertState | undefined, obs: Observation) => {
      const step = stepAlert(state, obs, timing, { ruleId, fingerprint });
      if (step.kind === 'stale') {
        if (state) next.set(fingerprint, state);
        return;
      }
      if (step.next) next.set(fingerprint, step.next);
      if (step.transition) transitions.push(step.transition);
    };
    for (const [fingerprint, state] of current?.alerts ?? []) {
      visit(fingerprint, state, observed.get(fingerprint) ?? { at: snapshot.at, labels: state.labels, fires: false, holdsWhileFiring: false });
    }
    for (const [fingerprint, obs] of observed) if (!current?.alerts.has(fingerprint)) visit(fingerprint, undefined, obs);

    return {
      transitions,
      alerts: next,
      commit: () => {
        this.rules.set(ruleId, { lastAt: snapshot.at, alerts: next });
      },
    };
  }

  /**
   * Whether a rule must be evaluated at an instant whose windows carry `metrics`: when it reads one
   * of them, uses absent() (absence is what it looks for), or has active alerts (which resolve
   * when their series fall silent). Skipping any other rule changes nothing.
   */
  shouldEvaluate(compiled: CompiledRule, metrics: ReadonlySet<string>): boolean {
    if (compiled.readsAbsence) return true;
    if ((this.rules.get(compiled.rule.id)?.alerts.size ?? 0) > 0) return true;
    return compiled.metrics.some((m) => metrics.has(m));
  }

  /** Active (pending or firing) alerts of a rule, by fingerprint. */
  activeAlerts(ruleId: string): ReadonlyMap<string, AlertState> {
    return this.rules.get(ruleId)?.alerts ?? new Map();
  }

  /** A rule that was deleted: its alerts are dropped without resolving (the caller decides what to notify). */
  forgetRule(ruleId: string): void {
    this.rules.delete(ruleId);
  }

  /**
   * Drops every active alert whose labels match, from every rule, without a transition: an erased
   * data subject's alerts must neither stay in the state nor come back as a "resolved" notification
   * naming it. Returns how many were dropped.
   */
  forgetAlerts(matches: (labels: Labels) => boolean): number {
    let dropped = 0;
    for (const r of this.rules.values()) {
      for (const [fingerprint, alert] of r.alerts) {
        if (!matches(alert.labels)) continue;
        r.alerts.delete(fingerprint);
        dropped++;
      }
    }
    return dropped;
  }

  exportState(): RuleEvaluatorState {
    const rules: RuleEvaluatorState['rules'] = {};
    for (const [id, r] of this.rules) rules[id] = { lastAt: r.lastAt, alerts: Object.fromEntries(r.alerts) };
    return structuredClone({ rules });
  }
}
