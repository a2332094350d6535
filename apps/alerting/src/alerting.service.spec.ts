import { Registry } from 'prom-client';
import { controlKey, type AggregateWindow, type AlertEvent, type ControlRecord } from '@headroom/contracts';
import { KeyEncryptionKey, TenantKeyring } from '@headroom/crypto';
import { createLogger } from '@headroom/runtime';
import { TenantDirectory } from '@headroom/tenancy';
import { AlertingService } from './alerting.service';
import type { AlertNotification } from './notifications/notification-channel';

const at = '2026-01-01T00:00:00Z';
const t0 = 1_767_225_600_000;

function setup() {
  const directory = new TenantDirectory(new TenantKeyring(KeyEncryptionKey.generate()));
  const put = (r: ControlRecord) => directory.apply(controlKey(r), r);
  put({ kind: 'tenant', tenant: 'label-a', displayName: 'A', status: 'active', shards: 1, locale: 'fr', createdAt: at });
  put({ kind: 'tenant', tenant: 'label-b', displayName: 'B', status: 'active', shards: 1, locale: 'en', createdAt: at });
  put({
    kind: 'alert_config',
    tenant: 'label-a',
    slackChannel: '#a-oncall',
    rules: [{ id: 'latency', metric: 'api_latency_ms', stat: 'p95', op: '>', threshold: 250, severity: 'critical' }],
    updatedAt: at,
  });
  put({
    kind: 'alert_config',
    tenant: 'label-b',
    slackChannel: '#b-oncall',
    rules: [{ id: 'errors', metric: 'error_rate', stat: 'max', op: '>', threshold: 0.05, severity: 'warning' }],
    updatedAt: at,
  });
  const notified: AlertNotification[] = [];
  const events: { tenant: string | undefined; value: AlertEvent | null }[] = [];
  let failNext = 0;
  const notifier = {
    notify: async (n: AlertNotification) => {
      if (failNext > 0) {
        failNext--;
        throw new Error('slack down');
      }
      notified.push(n);
    },
  };
  const sink = { publish: async (records: { tenant?: string; value: AlertEvent | null }[]) => void events.push(...records.map((r) => ({ tenant: r.tenant, value: r.value }))) };
  const service = new AlertingService(directory, notifier, sink, createLogger('test', 'silent'), new Registry());
  return { service, notified, events, put, failOnce: () => (failNext = 1) };
}

const latency = (i: number, p95: number): AggregateWindow => ({
  series: { name: 'api_latency_ms', labels: { route: '/play' } },
  seriesId: 'lat-play',
  windowStart: t0 + i * 10_000,
  windowMs: 10_000,
  count: 10,
  sum: 10 * p95,
  min: 1,
  max: Math.max(1, p95 * 2),
  p50: p95 / 2,
  p95,
  p99: p95,
});

describe('AlertingService', () => {
  it('fires, then resolves, an alert for the tenant whose rule breaches, routed to its own channel in its locale', async () => {
    const { service, notified, events } = setup();
    await service.handleBatch('label-a', { windows: [latency(0, 312)] });
    await service.handleBatch('label-a', { windows: [latency(1, 300)] });
    await service.handleBatch('label-a', { windows: [latency(2, 120)] });
    expect(notified.map((n) => [n.tenant, n.state, n.route.slackChannel, n.locale, n.value])).toEqual([
      ['label-a', 'firing', '#a-oncall', 'fr', 312],
      ['label-a', 'resolved', '#a-oncall', 'fr', 120],
    ]);
    expect(events).toEqual([
      { tenant: 'label-a', value: expect.objectContaining({ state: 'firing', ruleId: 'latency', startsAt: t0, value: 312, threshold: 250, labels: { route: '/play', alertname: 'latency', severity: 'critical' } }) },
      { tenant: 'label-a', value: expect.objectContaining({ state: 'resolved', startsAt: t0, endsAt: t0 + 20_000 }) },
    ]);
    expect(events[0]!.value!.fingerprint).toBe(events[1]!.value!.fingerprint);
  });

  it("never judges a tenant's windows by another tenant's rules", async () => {
    const { service, notified, events } = setup();
    // Far above A's latency threshold, but B has no latency rule.
    await service.handleBatch('label-b', { windows: [latency(0, 9_000)] });
    expect(notified).toEqual([]);
    expect(events).toEqual([]);
    await service.handleBatch('label-a', { windows: [latency(0, 9_000)] });
    expect(notified.map((n) => [n.tenant, n.route.slackChannel])).toEqual([['label-a', '#a-oncall']]);
  });

  it('does nothing for a tenant without alert config', async () => {
    const { service, notified } = setup();
    await service.handleBatch('label-c', { windows: [latency(0, 9_000)] });
    expect(notified).toEqual([]);
  });

  it('does not re-notify a replayed window, and orders a batch by window start', async () => {
    const { service, notified } = setup();
    await service.handleBatch('label-a', { windows: [latency(1, 100), latency(0, 312)] });
    await service.handleBatch('label-a', { windows: [latency(0, 312), latency(1, 100)] });
    expect(notified.map((n) => n.state)).toEqual(['firing', 'resolved']);
  });

  it('retries a transition whose notification failed instead of treating the window as seen', async () => {
    const { service, notified, events, failOnce } = setup();
    failOnce();
    await expect(service.handleBatch('label-a', { windows: [latency(0, 312)] })).rejects.toThrow('slack down');
    expect(events).toEqual([]);
    await service.handleBatch('label-a', { windows: [latency(0, 312)] });
    expect(notified.map((n) => n.state)).toEqual(['firing']);
    expect(events).toHaveLength(1);
  });

  it('forgets an erased tenant', async () => {
    const { service, notified, put } = setup();
    await service.handleBatch('label-a', { windows: [latency(0, 312)] });
    put({ kind: 'tenant_erased', tenant: 'label-a', erasedAt: at });
    await service.handleBatch('label-a', { windows: [latency(1, 100)] });
    expect(notified.map((n) => n.state)).toEqual(['firing']);
  });
});
