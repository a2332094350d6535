import type { Labels } from '@headroom/contracts';
import type { CompiledRule, WindowSnapshot } from './evaluate';

/** What is remembered of one active alert instance between instants (JSON-serialisable). */
export interface AlertState {
  status: 'pending' | 'firing';
  labels: Labels;
  /** Instant the condition started to hold (pending since). */
  activeAt: number;
  firedAt?: number;
  /** First instant the condition stopped holding while firing (keepFiringFor counts from it). */
  keepFiringSince?: number;
  /** Last instant evaluated: instants at or before it are stale. */
  lastEvalAt: number;
  /** Last value seen; null when it was not finite (NaN/±Inf do not survive JSON). */
  value: number | null;
}

export interface Transition {
  kind: 'pending' | 'firing' | 'resolved';
  ruleId: string;
  fingerprint: string;
  labels: Labels;
  value: number | null;
  /** The evaluation instant (windowStart) that caused the transition. */
  at: number;
  activeAt: number;
  firedAt?: number;
  resolvedAt?: number;
}

/** Everything a RuleEvaluator holds, per rule id (JSON-serialisable, to persist and restore). */
export interface RuleEvaluatorState {
  rules: Record<string, { lastAt: number; alerts: Record<string, AlertState> }>;
}

export function alertFingerprint(_ruleId: string, _labels: Labels): string {
  throw new Error('not implemented yet');
}

export class RuleEvaluator {
  constructor(_state?: RuleEvaluatorState) {}
  evaluate(_compiled: CompiledRule, _snapshot: WindowSnapshot): Transition[] {
    throw new Error('not implemented yet');
  }
}
