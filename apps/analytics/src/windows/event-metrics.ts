import type { MetricPoint, PlatformEvent } from '@headroom/contracts';

/**
 * Typed platform events become ordinary series, so windows, alert rules and exports treat them like
 * any metric (song_plays, revenue_amount, failed_logins, model_inference_latency_ms ...).
 * User ids are never labels: they would explode cardinality and they are personal data.
 */
export function eventToPoints(e: PlatformEvent): MetricPoint[] {
  const at = e.timestamp;
  switch (e.type) {
    case 'song_play':
      return [
        { name: 'song_plays', labels: e.country ? { country: e.country } : {}, value: 1, timestamp: at },
        { name: 'song_play_duration_ms', labels: {}, value: e.durationMs, timestamp: at, unit: 'ms' },
      ];
    case 'revenue':
      return [{ name: 'revenue_amount', labels: { currency: e.currency, source: e.source }, value: e.amount, timestamp: at, unit: e.currency }];
    case 'active_users':
      return [{ name: 'active_users', labels: { window: e.window }, value: e.count, timestamp: at }];
    case 'failed_login':
      return [{ name: 'failed_logins', labels: { reason: e.reason }, value: 1, timestamp: at }];
    case 'model_inference': {
      const labels = { model: e.model, model_version: e.modelVersion };
      const points: MetricPoint[] = [{ name: 'model_inference_latency_ms', labels, value: e.latencyMs, timestamp: at, unit: 'ms' }];
      if (e.accuracy !== undefined) points.push({ name: 'model_accuracy', labels, value: e.accuracy, timestamp: at });
      return points;
    }
  }
}
