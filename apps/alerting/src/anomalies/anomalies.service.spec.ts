import { controlKey, type AlertEvent, type ControlRecord, type Signal } from '@headroom/contracts';
import { KeyEncryptionKey, TenantKeyring } from '@headroom/crypto';
import { createLogger } from '@headroom/runtime';
import { TenantDirectory } from '@headroom/tenancy';
import { Registry } from 'prom-client';
import { AnomaliesService } from './anomalies.service';
import { InMemoryAnomalyPageStore } from './anomaly-page-store';

const at = '2026-01-01T00:00:00Z';
const t0 = 1_767_225_600_000;
const burstMs = 15 * 60_000;

const signal = (patch: Partial<Signal> = {}): Signal => ({
  kind: 'anomaly',
  detector: 'seasonal',
  series: { name: 'api_latency_ms', labels: { route: '/play' } },
  timestamp: t0,
  value: 480,
  score: 0.95,
  explanation: 'p95 value 480 ms is 31.2σ above the expected 120 ms',
  ...patch,
});

function setup() {
  const directory = new TenantDirectory(new TenantKeyring(KeyEncryptionKey.generate()));
  const put = (r: ControlRecord) => directory.apply(controlKey(r), r);
  put({ kind: 'tenant', tenant: 'label-a', displayName: 'A', status: 'active', shards: 1, locale: 'fr', createdAt: at });
  put({ kind: 'tenant', tenant: 'label-b', displayName: 'B', status: 'active', shards: 1, locale: 'en', createdAt: at });
  put({ kind: 'alert_config', tenant: 'label-a', slackChannel: '#a-oncall', rules: [], anomalies: { minScore: 0.8, severity: 'critical' }, updatedAt: at });
  // B pages on threshold rules only: A's anomaly config must never apply to B's signals.
  put({ kind: 'alert_config', tenant: 'label-b', slackChannel: '#b-oncall', rules: [], updatedAt: at });
  const events: { tenant: string | undefined; value: AlertEvent | null }[] = [];
  let failNext = 0;
  const sink = {
    publish: async (records: { tenant?: string; value: AlertEvent | null }[]) => {
      if (failNext > 0) {
        failNext--;
        throw new Error('kafka down');
      }
      events.push(...records.map((r) => ({ tenant: r.tenant, value: r.value })));
    },
  };
  const store = new InMemoryAnomalyPageStore();
  const metrics = new Registry();
  const service = new AnomaliesService(directory, sink, store, { burstMs }, createLogger('test', 'silent'), metrics);
  const suppressedCount = async () => (await metrics.getSingleMetric('headroom_alerts_anomaly_pages_suppressed_total')!.get()).values[0]?.value ?? 0;
  return { service, events, store, put, suppressedCount, failOnce: () => (failNext = 1) };
}

describe('AnomaliesService', () => {
  it('publishes a self-resolving alert event for the tenant with anomaly paging (the dispatcher routes it)', async () => {
    const { service, events } = setup();
    await service.handleBatch('label-a', { signals: [signal()] });
    expect(events).toEqual([
      {
        tenant: 'label-a',
        value: expect.objectContaining({
          ruleId: 'anomaly',
          state: 'firing',
          startsAt: t0,
          endsAt: t0 + 5 * 60_000,
          value: 0.95,
          threshold: 0.8,
          labels: { route: '/play', alertname: 'anomaly', severity: 'critical', detector: 'seasonal' },
        }),
      },
    ]);
    expect(events[0]!.value!.annotations.summary).toContain('31.2σ above');
  });

  it('never applies one tenant config to another tenant signals', async () => {
    const { service, events } = setup();
    await service.handleBatch('label-b', { signals: [signal({ score: 1 })] });
    expect(events).toEqual([]);
  });

  it('ignores signals under minScore and metrics the tenant does not watch', async () => {
    const { service, events, put } = setup();
    await service.handleBatch('label-a', { signals: [signal({ score: 0.5 })] });
    put({ kind: 'alert_config', tenant: 'label-a', slackChannel: '#a-oncall', rules: [], anomalies: { minScore: 0.8, severity: 'warning', metrics: ['api_errors'] }, updatedAt: at });
    await service.handleBatch('label-a', { signals: [signal()] });
    expect(events).toEqual([]);
  });

  it('pages at most once per series per burst window, per series, counting the suppressed ones', async () => {
    const { service, events, suppressedCount } = setup();
    const other = { name: 'api_latency_ms', labels: { route: '/search' } };
    await service.handleBatch('label-a', {
      signals: [signal({ timestamp: t0 + 20_000 }), signal(), signal({ timestamp: t0 + 10_000 }), signal({ series: other, timestamp: t0 + 10_000 })],
    });
    await service.handleBatch('label-a', { signals: [signal({ timestamp: t0 + burstMs })] });
    expect(events.map((e) => [e.value!.labels['route'], e.value!.startsAt])).toEqual([
      ['/play', t0],
      ['/search', t0 + 10_000],
      ['/play', t0 + burstMs],
    ]);
    expect(await suppressedCount()).toBe(2);
  });

  it('republishes the same event on a replay (the dispatcher dedupes it by fingerprint + startsAt) instead of suppressing it', async () => {
    const { service, events, suppressedCount } = setup();
    await service.handleBatch('label-a', { signals: [signal()] });
    await service.handleBatch('label-a', { signals: [signal()] });
    expect(events.map((e) => [e.value!.fingerprint, e.value!.startsAt])).toEqual([
      [events[0]!.value!.fingerprint, t0],
      [events[0]!.value!.fingerprint, t0],
    ]);
    expect(await suppressedCount()).toBe(0);
  });

  it('remembers a page only once its event was published, so a failed publish is retried whole', async () => {
    const { service, events, store, failOnce } = setup();
    failOnce();
    await expect(service.handleBatch('label-a', { signals: [signal()] })).rejects.toThrow('kafka down');
    expect(store.pages.size).toBe(0);
    await service.handleBatch('label-a', { signals: [signal()] });
    expect(events).toHaveLength(1);
    expect([...store.pages.values()]).toEqual([t0]);
  });
});
