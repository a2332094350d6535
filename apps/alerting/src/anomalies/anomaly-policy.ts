import { parseDuration, type AnomalyAlerting, type Signal, type SignalRule } from '@headroom/contracts';

/** An anomaly page expires by itself this long after the signal (Alertmanager's resolve_timeout idea). */
export const ANOMALY_PAGE_TTL_MS = 5 * 60_000;

/** The ruleId (and alertname) of pages from the legacy `anomalies` block. */
export const ANOMALY_RULE_ID = 'anomaly';

/** The legacy `anomalies` block is the signal rule `anomaly` of kind anomaly. */
export function signalRulesOf(anomalies: AnomalyAlerting | undefined, rules: readonly SignalRule[] | undefined): SignalRule[] {
  const legacy: SignalRule[] = anomalies ? [{ id: ANOMALY_RULE_ID, kind: 'anomaly', minScore: anomalies.minScore, severity: anomalies.severity, metrics: anomalies.metrics }] : [];
  return [...legacy, ...(rules ?? [])];
}

/** Pure: whether a signal pages under one signal rule of its tenant. */
export function ruleWants(rule: SignalRule, signal: Signal): boolean {
  if (signal.kind !== rule.kind || signal.score < rule.minScore) return false;
  if (rule.metrics?.length && !rule.metrics.includes(signal.series.name)) return false;
  if (rule.kind === 'forecast' && rule.within !== undefined) {
    if (!signal.forecast || signal.forecast.crossesAt - signal.timestamp > parseDuration(rule.within)) return false;
  }
  return true;
}

/**
 * Burst control, on signal (event) time so a replay decides exactly as the first pass did: one page
 * per series per `burstMs`. The signal that was paged last pages again (the notification log then
 * makes it a duplicate, so a retried record completes); anything else within the window, or older
 * than the last page, is suppressed.
 */
export function burstDecision(lastPagedAt: number | undefined, timestamp: number, burstMs: number): 'page' | 'suppress' {
  if (lastPagedAt === undefined || timestamp === lastPagedAt) return 'page';
  return timestamp >= lastPagedAt + burstMs ? 'page' : 'suppress';
}
