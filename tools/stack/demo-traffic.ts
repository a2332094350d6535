import type { IngestBatch, PlatformEvent } from '@headroom/contracts';

export interface DemoTenant {
  id: string;
  displayName: string;
  locale: string;
  baseLatencyMs: number;
  /** Seconds between latency incidents (0 = never): exercises the alert path. */
  incidentEverySeconds: number;
}

export const DEMO_TENANTS: DemoTenant[] = [
  { id: 'label-nova', displayName: 'Nova Records', locale: 'fr', baseLatencyMs: 110, incidentEverySeconds: 90 },
  { id: 'artist-lumen', displayName: 'Lumen (artist)', locale: 'en', baseLatencyMs: 80, incidentEverySeconds: 0 },
  { id: 'label-echo', displayName: 'Echo Music', locale: 'en', baseLatencyMs: 140, incidentEverySeconds: 0 },
];

const ROUTES = ['/play', '/search', '/playlist'];
const MODELS = ['reco', 'fraud'];

function gaussian(): number {
  return Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(2 * Math.PI * Math.random());
}

/**
 * One second of plausible traffic for a tenant: API latencies per route, song plays, revenue,
 * active users, a few failed logins and model inferences. During an incident (25 s, from 20 s in, then
 * every `incidentEverySeconds`), latencies triple so the p95 rule fires, then recover.
 */
export function demoBatch(t: DemoTenant, nowMs: number, secondsSinceStart: number): IngestBatch {
  const incident = t.incidentEverySeconds > 0 && secondsSinceStart >= 20 && (secondsSinceStart - 20) % t.incidentEverySeconds < 25;
  const points: IngestBatch['points'] = [];
  for (const route of ROUTES) {
    for (let i = 0; i < 8; i++) {
      const v = t.baseLatencyMs * (incident ? 3.2 : 1) * Math.exp(0.25 * gaussian());
      points.push({ name: 'api_latency_ms', labels: { route }, value: Math.round(v * 10) / 10, timestamp: nowMs - i * 100, unit: 'ms' });
    }
  }
  points.push({ name: 'queue_depth', labels: { queue: 'ingest' }, value: Math.max(0, Math.round(20 + 5 * gaussian())), timestamp: nowMs });
  const events: PlatformEvent[] = [];
  const plays = 5 + Math.floor(Math.random() * 10);
  for (let i = 0; i < plays; i++) {
    events.push({
      type: 'song_play',
      timestamp: nowMs - i * 50,
      trackId: `trk-${Math.floor(Math.random() * 500)}`,
      userId: `user-${Math.floor(Math.random() * 2000)}`,
      durationMs: 30_000 + Math.floor(Math.random() * 180_000),
      country: ['FR', 'BE', 'CA', 'SN'][i % 4],
    });
  }
  events.push({ type: 'revenue', timestamp: nowMs, amount: Math.round(plays * 0.0035 * 10_000) / 10_000, currency: 'EUR', source: 'stream' });
  events.push({ type: 'active_users', timestamp: nowMs, count: 800 + Math.floor(200 * Math.random()), window: '1m' });
  if (Math.random() < 0.3) events.push({ type: 'failed_login', timestamp: nowMs, userId: `user-${Math.floor(Math.random() * 2000)}`, reason: 'bad_password' });
  for (const model of MODELS) {
    events.push({ type: 'model_inference', timestamp: nowMs, model, modelVersion: '3.1', latencyMs: Math.max(1, 40 + 8 * gaussian()), accuracy: Math.min(1, 0.9 + 0.02 * gaussian()) });
  }
  return { points, events };
}
