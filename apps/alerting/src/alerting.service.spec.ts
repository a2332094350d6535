import { Registry } from 'prom-client';
import { controlKey, type AggregateWindow, type AlertEvent, type ControlRecord } from '@headroom/contracts';
import { KeyEncryptionKey, TenantKeyring } from '@headroom/crypto';
import { createLogger } from '@headroom/runtime';
import { TenantDirectory } from '@headroom/tenancy';
import { AlertingService } from './alerting.service';
import { InMemoryAlertStateStore } from './rules/alert-state-store';
import type { AlertNotification } from './notifications/notification-channel';

const at = '2026-01-01T00:00:00Z';
const t0 = 1_767_225_600_000;

function setup(store = new InMemoryAlertStateStore()) {
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
  const service = new AlertingService(directory, notifier, sink, createLogger('test', 'silent'), new Registry(), store);
  service.onApplicationBootstrap();
  return { service, notified, events, put, store, failOnce: () => (failNext = 1) };
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

  it('forgets an erased tenant, in memory and in the store, and leaves other tenants alone', async () => {
    const { service, notified, put, store } = setup();
    await service.handleBatch('label-a', { windows: [latency(0, 312)] });
    await service.handleBatch('label-b', { windows: [{ ...latency(0, 0), series: { name: 'error_rate', labels: {} }, max: 0.5 }] });
    expect([...store.hashes.keys()].map((k) => k.split(':')[2])).toEqual(['label-a', 'label-b']);
    put({ kind: 'tenant_erased', tenant: 'label-a', erasedAt: at });
    await service.erasuresSettled();
    expect([...store.hashes.keys()].map((k) => k.split(':')[2])).toEqual(['label-b']);
    await service.handleBatch('label-a', { windows: [latency(1, 100)] });
    expect(notified.map((n) => [n.tenant, n.state])).toEqual([
      ['label-a', 'firing'],
      ['label-b', 'firing'],
    ]);
  });

  it('persists each committed transition and resumes it in a new process (same startsAt, no second page)', async () => {
    const store = new InMemoryAlertStateStore();
    const first = setup(store);
    await first.service.handleBatch('label-a', { windows: [latency(0, 312)] });
    expect([...store.hashes.values()]).toEqual([{ status: 'firing', startsAt: String(t0), lastWindowStart: String(t0) }]);

    const second = setup(store);
    await second.service.handleBatch('label-a', { windows: [latency(0, 312)] }); // replayed: stale
    await second.service.handleBatch('label-a', { windows: [latency(1, 400)] }); // still breaching
    await second.service.handleBatch('label-a', { windows: [latency(2, 100)] });
    expect(second.notified.map((n) => [n.state, n.startsAt, n.endsAt])).toEqual([['resolved', t0, t0 + 20_000]]);
    expect(second.events.map((e) => [e.value!.state, e.value!.startsAt])).toEqual([['resolved', t0]]);
    expect([...store.hashes.values()]).toEqual([{ status: 'inactive', lastWindowStart: String(t0 + 20_000) }]);

    // A third process: the resolved episode's windows replayed are stale, not a new episode.
    const third = setup(store);
    await third.service.handleBatch('label-a', { windows: [latency(1, 400), latency(2, 100)] });
    expect(third.notified).toEqual([]);
  });

  it('retries the whole transition when the state cannot be written (after the notification and event)', async () => {
    const store = new InMemoryAlertStateStore();
    const { service, notified, events } = setup(store);
    const save = jest.spyOn(store, 'save').mockRejectedValueOnce(new Error('redis down'));
    await expect(service.handleBatch('label-a', { windows: [latency(0, 312)] })).rejects.toThrow('redis down');
    expect(notified).toHaveLength(1);
    expect(events).toHaveLength(1);
    // The retry re-attempts it (the notification log dedups the page in production) and then commits.
    await service.handleBatch('label-a', { windows: [latency(0, 312)] });
    expect(save).toHaveBeenCalledTimes(2);
    expect(events.map((e) => e.value!.startsAt)).toEqual([t0, t0]);
    expect([...store.hashes.values()]).toEqual([{ status: 'firing', startsAt: String(t0), lastWindowStart: String(t0) }]);
  });

  it('loads a fingerprint from the store only the first time this process sees it', async () => {
    const store = new InMemoryAlertStateStore();
    const { service } = setup(store);
    const load = jest.spyOn(store, 'load');
    for (let i = 0; i < 4; i++) await service.handleBatch('label-a', { windows: [latency(i, 100)] });
    expect(load).toHaveBeenCalledTimes(1);
  });

  it('after a rebalance, takes a resolution made by another replica from the store instead of its own stale memory', async () => {
    const store = new InMemoryAlertStateStore();
    const a = setup(store);
    await a.service.handleBatch('label-a', { windows: [latency(0, 312)] }); // replica A: firing
    const b = setup(store);
    await b.service.handleBatch('label-a', { windows: [latency(1, 100)] }); // partition moved: replica B resolves
    a.service.forgetCachedStates(); // partition comes back to A
    await a.service.handleBatch('label-a', { windows: [latency(2, 320)] }); // a new breach
    expect(a.events.map((e) => e.value!.state)).toEqual(['firing', 'firing']);
    expect(b.events.map((e) => e.value!.state)).toEqual(['resolved']);
  });
});

