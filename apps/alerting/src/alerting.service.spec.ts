import { Registry } from 'prom-client';
import { controlKey, type AggregateWindow, type AlertEvent, type ControlRecord } from '@headroom/contracts';
import { KeyEncryptionKey, TenantKeyring } from '@headroom/crypto';
import { createLogger } from '@headroom/runtime';
import { TenantDirectory } from '@headroom/tenancy';
import { AlertingService } from './alerting.service';
import { InMemoryRuleStateStore } from './rules/rule-state-store';

const at = '2026-01-01T00:00:00Z';
const t0 = 1_767_225_600_000;

function setup(store = new InMemoryRuleStateStore()) {
  const directory = new TenantDirectory(new TenantKeyring(KeyEncryptionKey.generate()));
  const put = (r: ControlRecord) => directory.apply(controlKey(r), r);
  put({ kind: 'tenant', tenant: 'label-a', displayName: 'A', status: 'active', shards: 1, locale: 'fr', createdAt: at });
  put({ kind: 'tenant', tenant: 'label-b', displayName: 'B', status: 'active', shards: 1, locale: 'en', createdAt: at });
  put({
    kind: 'alert_config',
    tenant: 'label-a',
    rules: [{ id: 'latency', metric: 'api_latency_ms', stat: 'p95', op: '>', threshold: 250, severity: 'critical' }],
    alertRules: [
      { id: 'slow-search', expr: 'p95(api_latency_ms{route="/search"}) > 250', for: '20s', resolveThreshold: 200, severity: 'warning' },
      { id: 'error-ratio', expr: 'sum(errors) / sum(requests) > 0.05', severity: 'critical' },
    ],
    updatedAt: at,
  });
  put({ kind: 'alert_config', tenant: 'label-b', rules: [{ id: 'latency', metric: 'api_latency_ms', stat: 'p95', op: '>', threshold: 1_000, severity: 'warning' }], updatedAt: at });
  const events: { tenant: string | undefined; value: AlertEvent }[] = [];
  const sink = { publish: async (records: { tenant?: string; value: AlertEvent | null }[]) => void events.push(...records.map((r) => ({ tenant: r.tenant, value: r.value! }))) };
  const service = new AlertingService(directory, sink, createLogger('test', 'silent'), new Registry(), store, { settleMs: 60_000 });
  return { service, events, put, store };
}

const win = (name: string, labels: Record<string, string>, i: number, stats: Partial<AggregateWindow>): AggregateWindow => ({
  series: { name, labels },
  seriesId: `${name}-${JSON.stringify(labels)}`,
  windowStart: t0 + i * 10_000,
  windowMs: 10_000,
  count: 10,
  sum: 100,
  min: 1,
  max: 1_000,
  p50: 50,
  p95: 100,
  p99: 200,
  ...stats,
});
const lat = (route: string, i: number, p95: number) => win('api_latency_ms', { route }, i, { p95, p99: p95 * 2, max: p95 * 3 });

const summary = (events: { tenant: string | undefined; value: AlertEvent }[]) => events.map((e) => [e.tenant, e.value.ruleId, e.value.labels['route'] ?? '', e.value.state]);

describe('AlertingService (evaluation)', () => {
  it('judges each window by its own tenant rules only', async () => {
    const { service, events } = setup();
    await service.handleBatch('label-b', { windows: [lat('/play', 0, 400)] });
    await service.handleBatch('label-a', { windows: [lat('/play', 0, 400)] });
    await service.settleAll();
    expect(summary(events)).toEqual([['label-a', 'latency', '/play', 'firing']]);
  });

  it('waits for a later instant (or the settle time) before judging an instant, so a series in the next record does not resolve', async () => {
    const { service, events } = setup();
    await service.handleBatch('label-a', { windows: [lat('/play', 0, 400)] });
    expect(events).toEqual([]);
    await service.handleBatch('label-a', { windows: [lat('/play', 1, 400)] });
    expect(summary(events)).toEqual([['label-a', 'latency', '/play', 'firing']]);
    // Instant 1 holds two records: the second brings another series; nothing resolves in between.
    await service.handleBatch('label-a', { windows: [lat('/other', 1, 10)] });
    await service.handleBatch('label-a', { windows: [lat('/play', 2, 100)] });
    await service.settleAll();
    expect(summary(events)).toEqual([
      ['label-a', 'latency', '/play', 'firing'],
      ['label-a', 'latency', '/play', 'resolved'],
    ]);
  });

  it('goes pending first with `for`, fires after it, and resolves only below the resolve threshold (hysteresis)', async () => {
    const { service, events } = setup();
    const p95s = [300, 300, 300, 240, 230, 190];
    await service.handleBatch('label-a', { windows: p95s.map((p, i) => lat('/search', i, p)) });
    await service.settleAll();
    const slow = events.filter((e) => e.value.ruleId === 'slow-search');
    expect(slow.map((e) => [e.value.state, (e.value.observedAt ?? 0) > 0])).toEqual([
      ['pending', true],
      ['firing', true],
      ['resolved', true],
    ]);
    expect(slow[2]!.value.endsAt).toBe(t0 + 5 * 10_000);
    expect(slow[0]!.value.startsAt).toBe(t0);
  });

  it('evaluates ratios across series of one instant', async () => {
    const { service, events } = setup();
    await service.handleBatch('label-a', { windows: [win('errors', { route: '/play' }, 0, { sum: 8 }), win('requests', { route: '/play' }, 0, { sum: 100 })] });
    await service.settleAll();
    expect(summary(events)).toEqual([['label-a', 'error-ratio', '/play', 'firing']]);
    expect(events[0]!.value.value).toBeCloseTo(0.08);
  });

  it('resumes from the stored state after a restart: a firing alert resolves once, with its original startsAt', async () => {
    const store = new InMemoryRuleStateStore();
    const first = setup(store);
    await first.service.handleBatch('label-a', { windows: [lat('/play', 0, 400)] });
    await first.service.settleAll();
    const second = setup(store);
    await second.service.handleBatch('label-a', { windows: [lat('/play', 1, 400), lat('/play', 2, 100)] });
    await second.service.settleAll();
    expect(summary(second.events)).toEqual([['label-a', 'latency', '/play', 'resolved']]);
    expect(second.events[0]!.value.startsAt).toBe(first.events[0]!.value.startsAt);
  });

  it('ignores replayed instants', async () => {
    const { service, events } = setup();
    await service.handleBatch('label-a', { windows: [lat('/play', 0, 400), lat('/play', 1, 100)] });
    await service.settleAll();
    await service.handleBatch('label-a', { windows: [lat('/play', 0, 400), lat('/play', 1, 100)] });
    await service.settleAll();
    expect(summary(events)).toEqual([
      ['label-a', 'latency', '/play', 'firing'],
      ['label-a', 'latency', '/play', 'resolved'],
    ]);
  });
});
