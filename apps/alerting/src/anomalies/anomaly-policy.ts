import type { AnomalyAlerting, Signal } from '@headroom/contracts';

/** An anomaly page expires by itself this long after the signal (Alertmanager's resolve_timeout idea). */
export const ANOMALY_PAGE_TTL_MS = 5 * 60_000;

/**
 * Pure: whether one of the tenant's signals is worth paging under the tenant's own `anomalies`
 * config. No config = no anomaly paging; an empty or absent metric list = every metric.
 */
export function wantsPage(config: AnomalyAlerting | undefined, signal: Signal): boolean {
  if (!config || signal.kind !== 'anomaly') return false;
  if (signal.score < config.minScore) return false;
  return !config.metrics?.length || config.metrics.includes(signal.series.name);
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
