import { Registry } from 'prom-client';
import type { AggregateWindow } from '@headroom/contracts';
import { KeyEncryptionKey, TenantKeyring } from '@headroom/crypto';
import { createLogger } from '@headroom/runtime';
import { expectEventually } from '@headroom/testing';
import { TenantDirectory } from '@headroom/tenancy';
import { parseExposition } from './exposition.parser';
import type { WindowRepository } from './latest-windows.repository';
import { PrometheusService } from './prometheus.service';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const w = (name: string, windowStart: number, count = 1): AggregateWindow => ({
  series: { name, labels: { region: 'eu' } },
  seriesId: name,
  windowStart,
  windowMs: 10_000,
  count,
  sum: 12.5 * count,
  min: 1,
  max: 20,
  p50: 10,
  p95: 19,
  p99: 20,
});

/** The repository's contract in memory, with a switch to simulate PostgreSQL being down. */
class MemoryRepository implements WindowRepository {
  rows = new Map<string, { tenant: string; window: AggregateWindow }>();
  down = false;
  async migrate() {}
  async loadAll() {
    return [...this.rows.values()];
  }
  async upsert(tenant: string, windows: readonly AggregateWindow[]) {
    if (this.down) throw new Error('connection refused');
    for (const window of windows) {
      const held = this.rows.get(`${tenant}/${window.seriesId}`);
      if (!held || held.window.windowStart <= window.windowStart) this.rows.set(`${tenant}/${window.seriesId}`, { tenant, window });
    }
  }
  async deleteEndedBefore(cutoff: number) {
    let n = 0;
    for (const [k, r] of this.rows) if (r.window.windowStart + r.window.windowMs < cutoff && this.rows.delete(k)) n++;
    return n;
  }
  async deleteTenant(tenant: string) {
    for (const [k, r] of this.rows) if (r.tenant === tenant) this.rows.delete(k);
  }
}

async function setup(repository = new MemoryRepository()) {
  const clock = { now: T0 + 20_000 };
  const directory = new TenantDirectory(new TenantKeyring(KeyEncryptionKey.generate()));
  const metrics = new Registry();
  const service = new PrometheusService(repository, directory, { groupId: 'g', stalenessSeconds: 300, now: () => clock.now }, metrics, createLogger('exporters', 'silent'));
  await service.onModuleInit();
  const counts = async (tenant: string) =>
    parseExposition((await service.exposition(tenant)).text)
      .samples.filter((s) => s.name.endsWith('_count'))
      .map((s) => [s.name, s.value]);
  return { service, repository, directory, metrics, clock, counts };
}

describe('PrometheusService', () => {
  afterEach(() => jest.useRealTimers());

  it('serves what it recorded, per tenant, and ignores a replayed older window', async () => {
    const { service, counts } = await setup();
    await service.record('label-a', [w('plays', T0 + 10_000, 3)]);
    await service.record('label-b', [w('skips', T0, 2)]);
    await service.record('label-a', [w('plays', T0, 99)]);
    expect(await counts('label-a')).toEqual([['plays_count', 3]]);
    expect(await counts('label-b')).toEqual([['skips_count', 2]]);
    service.beforeApplicationShutdown();
  });

  it('writes to the database before serving: if the write fails, the batch fails (to be retried) and nothing is served', async () => {
    const { service, repository, counts } = await setup();
    repository.down = true;
    await expect(service.record('label-a', [w('plays', T0, 3)])).rejects.toThrow('connection refused');
    expect(await counts('label-a')).toEqual([]);
    service.beforeApplicationShutdown();
  });

  it('restores its state from the repository at boot', async () => {
    const first = await setup();
    await first.service.record('label-a', [w('plays', T0 + 10_000, 4)]);
    first.service.beforeApplicationShutdown();
    const second = await setup(first.repository);
    expect(await second.counts('label-a')).toEqual([['plays_count', 4]]);
    second.service.beforeApplicationShutdown();
  });

  it('drops stale series from the page and, on prune, from memory and the database', async () => {
    const { service, repository, clock, counts } = await setup();
    await service.record('label-a', [w('old', T0), w('recent', T0 + 200_000)]);
    clock.now = T0 + 10_000 + 300_001;
    expect(await counts('label-a')).toEqual([['recent_count', 1]]);
    await service.prune();
    expect([...repository.rows.keys()]).toEqual(['label-a/recent']);
    service.beforeApplicationShutdown();
  });

  it('deletes an erased tenant\'s windows', async () => {
    const { service, repository, directory, counts } = await setup();
    await service.record('label-a', [w('plays', T0)]);
    directory.apply('tenant_erased/label-a', { kind: 'tenant_erased', tenant: 'label-a', erasedAt: '2026-01-01T00:00:00Z' });
    expect(await counts('label-a')).toEqual([]);
    await expectEventually(() => expect(repository.rows.size).toBe(0));
    service.beforeApplicationShutdown();
  });

  it('reports the series count per tenant in its own metrics, without tenants\' values', async () => {
    const { service, metrics } = await setup();
    await service.record('label-a', [w('plays', T0, 3), w('skips', T0, 5)]);
    const own = await metrics.metrics();
    expect(own).toContain('headroom_exporter_series{tenant="label-a"} 2');
    expect(own).not.toMatch(/plays|skips|12\.5/);
    service.beforeApplicationShutdown();
  });
});
