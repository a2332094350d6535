import { Registry } from 'prom-client';
import type { AggregateWindow } from '@headroom/contracts';
import { KeyEncryptionKey, TenantKeyring } from '@headroom/crypto';
import { createLogger } from '@headroom/runtime';
import { expectEventually } from '@headroom/testing';
import { SubjectErasures, TenantDirectory } from '@headroom/tenancy';
import type { ExpositionFormat } from './exposition';
import { parseExposition } from './exposition.parser';
import { PrometheusService } from './prometheus.service';
import { applyWindows, windowEnd, windowKey, type SeriesState, type StoredWindow } from './series-ledger';
import type { ExposedQuery, ExposedWindow, WindowRepository } from './windows.repository';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const W = 10_000;
const w = (name: string, k: number, count = 1, extra: Partial<AggregateWindow> = {}): AggregateWindow => ({
  series: { name, labels: { region: 'eu' } },
  seriesId: name,
  windowStart: T0 + k * W,
  windowMs: W,
  count,
  sum: 12.5 * count,
  min: 1,
  max: 20,
  p50: 10,
  p95: 19,
  p99: 20,
  ...extra,
});

/** The repository's contract in memory (the same ledger as PostgreSQL's), with a switch to simulate the database being down. */
class MemoryRepository implements WindowRepository {
  series = new Map<string, SeriesState & { tenant: string }>();
  windows = new Map<string, StoredWindow & { tenant: string }>();
  down = false;
  async migrate() {}
  async apply(tenant: string, batch: readonly AggregateWindow[], opts: { now: number; expiredBefore: number }) {
    if (this.down) throw new Error('connection refused');
    const result = applyWindows({ series: this.scoped(this.series, tenant, (s) => s.seriesId), windows: this.scoped(this.windows, tenant, (x) => windowKey(x.seriesId, x.windowStart, x.windowMs)) }, batch, opts);
    for (const s of result.series) this.series.set(`${tenant}/${s.seriesId}`, { ...s, tenant });
    for (const x of result.windows) this.windows.set(`${tenant}/${windowKey(x.seriesId, x.windowStart, x.windowMs)}`, { ...x, tenant });
    return result.outcomes;
  }
  async exposed(tenant: string, q: ExposedQuery): Promise<ExposedWindow[]> {
    if (this.down) throw new Error('connection refused');
    const out: ExposedWindow[] = [];
    for (const x of this.windows.values()) {
      const s = this.series.get(`${tenant}/${x.seriesId}`);
      if (x.tenant !== tenant || !s?.frontier || windowEnd(s.frontier) < q.freshFrom) continue;
      const latest = s.frontier.windowStart === x.windowStart && s.frontier.windowMs === x.windowMs;
      if (latest || (q.appliedAfter !== undefined && x.appliedAt > q.appliedAfter)) {
        out.push({ ...x, series: s.series, ...(s.unit ? { unit: s.unit } : {}), latest });
      }
    }
    return out;
  }
  async freshSeriesCounts(freshFrom: number) {
    const counts = new Map<string, number>();
    for (const s of this.series.values()) if (s.frontier && windowEnd(s.frontier) >= freshFrom) counts.set(s.tenant, (counts.get(s.tenant) ?? 0) + 1);
    return counts;
  }
  async prune(windowsEndedBefore: number, seriesEndedBefore: number) {
    for (const [k, x] of this.windows) if (windowEnd(x) < windowsEndedBefore) this.windows.delete(k);
    for (const [k, s] of this.series) if (!s.frontier || windowEnd(s.frontier) < seriesEndedBefore) this.series.delete(k);
  }
  async deleteTenant(tenant: string) {
    for (const [k, x] of this.windows) if (x.tenant === tenant) this.windows.delete(k);
    for (const [k, s] of this.series) if (s.tenant === tenant) this.series.delete(k);
  }
  private scoped<V extends { tenant: string }>(map: Map<string, V>, tenant: string, key: (v: V) => string): Map<string, V> {
    return new Map([...map.values()].filter((v) => v.tenant === tenant).map((v) => [key(v), v]));
  }
}

async function setup(repository = new MemoryRepository(), erasures?: SubjectErasures) {
  const clock = { now: T0 + 20_000 };
  const directory = new TenantDirectory(new TenantKeyring(KeyEncryptionKey.generate()));
  const metrics = new Registry();
  const service = new PrometheusService(
    repository,
    directory,
    { groupId: 'g', stalenessSeconds: 300, lookbackSeconds: 60, windowRetentionSeconds: 7200, now: () => clock.now },
    metrics,
    createLogger('exporters', 'silent'),
    erasures,
  );
  await service.onModuleInit();
  const samples = async (tenant: string, name: string, format: ExpositionFormat = 'text') =>
    parseExposition((await service.exposition(tenant, format)).text, format)
      .samples.filter((s) => s.name === name)
      .map((s) => [s.timestampMs! - T0, s.value]);
  return { service, repository, directory, metrics, clock, samples };
}

describe('PrometheusService', () => {
  it('serves each tenant its own windows, and ignores a replayed older window', async () => {
    const { service, clock, samples } = await setup();
    clock.now = T0 + 40_000;
    await service.record('label-a', [w('plays', 2, 3)]);
    await service.record('label-b', [w('skips', 1, 2)]);
    await service.record('label-a', [w('plays', 2, 99)]);
    expect(await samples('label-a', 'plays_count')).toEqual([[3 * W, 3]]);
    expect(await samples('label-b', 'skips_count')).toEqual([[2 * W, 2]]);
    expect(await samples('label-b', 'plays_count')).toEqual([]);
    service.beforeApplicationShutdown();
  });

  it('gives OpenMetrics scrapers every window applied within the lookback, the text format the newest only', async () => {
    const { service, clock, samples } = await setup();
    clock.now = T0 + 15_000;
    await service.record('label-a', [w('plays', 0, 5)]);
    clock.now = T0 + 25_000;
    await service.record('label-a', [w('plays', 1, 7)]);
    clock.now = T0 + 35_000;
    await service.record('label-a', [w('plays', 2, 4)]);
    // A scraper every 30 s would have missed the middle window with one sample per series.
    expect(await samples('label-a', 'plays_count', 'openmetrics')).toEqual([
      [W, 5],
      [2 * W, 7],
      [3 * W, 4],
    ]);
    expect(await samples('label-a', 'plays_points_total', 'openmetrics')).toEqual([
      [W, 5],
      [2 * W, 12],
      [3 * W, 16],
    ]);
    expect(await samples('label-a', 'plays_count', 'text')).toEqual([[3 * W, 4]]);
    // 61 s after the first window was applied it leaves the lookback; the newest stays while fresh.
    clock.now = T0 + 15_000 + 60_001;
    expect((await samples('label-a', 'plays_count', 'openmetrics')).map(([t]) => t)).toEqual([2 * W, 3 * W]);
    service.beforeApplicationShutdown();
  });

  it('fails the batch (to be retried) when the database is down, and the scrape too', async () => {
    const { service, repository, samples } = await setup();
    repository.down = true;
    await expect(service.record('label-a', [w('plays', 0, 3)])).rejects.toThrow('connection refused');
    await expect(service.exposition('label-a', 'text')).rejects.toThrow('connection refused');
    repository.down = false;
    expect(await samples('label-a', 'plays_count')).toEqual([]);
    service.beforeApplicationShutdown();
  });

  it('keeps counting where it stopped after a restart (the state is the repository, not the process)', async () => {
    const first = await setup();
    await first.service.record('label-a', [w('plays', 0, 4)]);
    first.service.beforeApplicationShutdown();
    const second = await setup(first.repository);
    second.clock.now = T0 + 30_000;
    await second.service.record('label-a', [w('plays', 1, 6)]);
    expect(await second.samples('label-a', 'plays_points_total')).toEqual([[2 * W, 10]]);
    second.service.beforeApplicationShutdown();
  });

  it('drops stale series from the page and, on prune, windows past retention', async () => {
    const { service, repository, clock, samples } = await setup();
    await service.record('label-a', [w('old', 0), w('recent', 20)]);
    clock.now = T0 + W + 300_001;
    expect(await samples('label-a', 'old_count')).toEqual([]);
    expect(await samples('label-a', 'recent_count')).toEqual([[21 * W, 1]]);
    clock.now = T0 + W + 7_200_001;
    await service.prune();
    expect([...repository.windows.values()].map((x) => x.seriesId)).toEqual(['recent']);
    service.beforeApplicationShutdown();
  });

  it('drops windows of an erased subject from before its request (still on the topic), keeps later ones and other subjects', async () => {
    const erasures = new SubjectErasures();
    const { service, clock, samples, metrics } = await setup(new MemoryRepository(), erasures);
    clock.now = T0 + 60_000;
    const ofUser = (user: string, k: number) => ({ ...w('plays', k, 1), series: { name: 'plays', labels: { user } }, seriesId: `plays-${user}` });
    erasures.add('label-a', 'u_gone', T0 + 2 * W); // requested while window 2 was open
    await service.record('label-a', [ofUser('u_gone', 1), ofUser('u_gone', 2), ofUser('u_kept', 1)]);
    await service.record('label-b', [ofUser('u_gone', 1)]); // the same pseudonym in another tenant is another subject
    expect((await samples('label-a', 'plays_count')).length).toBe(1);
    expect((await samples('label-b', 'plays_count')).length).toBe(1);
    await service.record('label-a', [ofUser('u_gone', 3)]); // after the request: new data
    expect((await samples('label-a', 'plays_count')).length).toBe(2);
    expect((await metrics.getSingleMetric('headroom_exporter_windows_total')?.get())?.values.find((v) => v.labels['outcome'] === 'erased')?.value).toBe(2);
    service.beforeApplicationShutdown();
  });

  it("deletes an erased tenant's windows and counters", async () => {
    const { service, repository, directory, samples } = await setup();
    await service.record('label-a', [w('plays', 0)]);
    directory.apply('tenant_erased/label-a', { kind: 'tenant_erased', tenant: 'label-a', erasedAt: '2026-01-01T00:00:00Z' });
    await expectEventually(() => expect(repository.series.size + repository.windows.size).toBe(0));
    expect(await samples('label-a', 'plays_count')).toEqual([]);
    service.beforeApplicationShutdown();
  });

  it("reports windows by outcome and series per tenant in its own metrics, without tenants' values", async () => {
    const { service, metrics } = await setup();
    await service.record('label-a', [w('plays', 0, 3), w('skips', 0, 5), w('plays', 0, 3)]);
    const own = await metrics.metrics();
    expect(own).toContain('headroom_exporter_series{tenant="label-a"} 2');
    expect(own).toContain('headroom_exporter_windows_total{outcome="applied"} 2');
    expect(own).toContain('headroom_exporter_windows_total{outcome="superseded"} 1');
    expect(own).not.toMatch(/plays|skips|12\.5/);
    service.beforeApplicationShutdown();
  });
});
