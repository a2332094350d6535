import pino from 'pino';
import { Registry } from 'prom-client';
import type { MetricPoint } from '@headroom/contracts';
import { validateScrapersConfig, type ScrapersConfig } from './config';
import { leaseKey, ScrapeLeases, type LeaseStore } from './lease';
import { ScrapeScheduler, type SubmitOutcome } from './scheduler';
import type { ScraperFactory } from './scraper';

/** Redis' SET NX PX / compare-and-PEXPIRE / compare-and-DEL, in memory, on a clock the spec moves. */
class MemoryLeaseStore implements LeaseStore {
  now = 0;
  readonly keys = new Map<string, { token: string; expiresAt: number }>();
  failing = false;

  private live(key: string) {
    const e = this.keys.get(key);
    if (e && e.expiresAt <= this.now) this.keys.delete(key);
    return this.keys.get(key);
  }
  async acquire(key: string, token: string, ttlMs: number) {
    if (this.failing) throw new Error('redis down');
    if (this.live(key)) return false;
    this.keys.set(key, { token, expiresAt: this.now + ttlMs });
    return true;
  }
  async renew(key: string, token: string, ttlMs: number) {
    if (this.failing) throw new Error('redis down');
    const e = this.live(key);
    if (e?.token !== token) return false;
    e.expiresAt = this.now + ttlMs;
    return true;
  }
  async release(key: string, token: string) {
    const e = this.live(key);
    if (e?.token !== token) return false;
    this.keys.delete(key);
    return true;
  }
}

describe('ScrapeLeases', () => {
  it('one holder at a time: the holder renews, others fail until it expires or is released', async () => {
    const store = new MemoryLeaseStore();
    const a = new ScrapeLeases(store, 'a', 3000);
    const b = new ScrapeLeases(store, 'b', 3000);
    const k = leaseKey('ops', 'redis');
    expect(k).toBe('hr:scraper:lease:ops:redis');
    expect(await a.claim(k)).toBe(true);
    expect(await b.claim(k)).toBe(false);
    store.now = 2000;
    expect(await a.claim(k)).toBe(true); // renewed until 5000
    store.now = 4000;
    expect(await b.claim(k)).toBe(false);
    // a stops renewing (crashed): b takes over once the lease expires
    store.now = 5000;
    expect(await b.claim(k)).toBe(true);
    expect(await a.claim(k)).toBe(false);
    expect(a.holds(k)).toBe(false);
    // a's release never deletes b's lease
    await a.releaseAll();
    expect(store.keys.get(k)?.token).toBe('b');
    // b shuts down: released, a takes it at once
    await b.releaseAll();
    expect(store.keys.has(k)).toBe(false);
    expect(await a.claim(k)).toBe(true);
  });

  it('propagates a store failure (the cycle is skipped and counted, never run unleased)', async () => {
    const store = new MemoryLeaseStore();
    store.failing = true;
    await expect(new ScrapeLeases(store, 'a', 3000).claim('k')).rejects.toThrow('redis down');
  });
});

function fakeScraper(type: string, behaviour: () => Promise<MetricPoint[]> | MetricPoint[], scope?: 'replica'): ScraperFactory {
  return {
    type,
    scope,
    defaultConfig: {},
    validate: () => [],
    create: () => ({ collect: async ({ timestamp }) => (await behaviour()).map((p) => ({ ...p, timestamp })) }),
  };
}

const point = (name: string): MetricPoint => ({ name, labels: {}, value: 1, timestamp: 0 });

describe('ScrapeScheduler', () => {
  const registryOf = (...factories: ScraperFactory[]) => factories;
  const configFor = (factories: ScraperFactory[], extra: object = {}): ScrapersConfig => {
    const r = validateScrapersConfig({ tenant: 'ops', intervalMs: 1000, timeoutMs: 200, scrapers: factories.map((f) => ({ type: f.type })), ...extra }, factories);
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    return r.config;
  };

  function replica(config: ScrapersConfig, store: MemoryLeaseStore, name: string, published: { replica: string; source: string; points: MetricPoint[] }[], opts: { known?: () => boolean; submit?: () => SubmitOutcome } = {}) {
    const metrics = new Registry();
    const scheduler = new ScrapeScheduler(config, {
      leases: new ScrapeLeases(store, name, config.leaseMs),
      tenantKnown: opts.known ?? (() => true),
      submit: async (_tenant, body, o) => {
        published.push({ replica: name, source: o.source, points: body.points });
        return opts.submit?.() ?? { ok: true };
      },
      logger: pino({ level: 'silent' }),
      metrics,
      instance: name,
    });
    return { scheduler, metrics };
  }

  const metricValue = async (metrics: Registry, name: string, labels: Record<string, string>) => {
    const m = (await metrics.getMetricsAsJSON()).find((x) => x.name === name);
    return (m?.values as { labels: Record<string, string>; value: number }[] | undefined)?.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value ?? 0;
  };

  it('with two replicas, each scraper is published once per interval; a replica-scoped one on each replica', async () => {
    const factories = registryOf(fakeScraper('alpha', () => [point('alpha_x')]), fakeScraper('beta', () => [point('beta_x')]), fakeScraper('self', () => [point('self_x')], 'replica'));
    const config = configFor(factories);
    const store = new MemoryLeaseStore();
    const published: { replica: string; source: string; points: MetricPoint[] }[] = [];
    const r1 = replica(config, store, 'r1', published);
    const r2 = replica(config, store, 'r2', published);
    for (let slot = 1000; slot <= 5000; slot += 1000) {
      store.now = slot;
      await Promise.all([r2.scheduler.cycle(slot), r1.scheduler.cycle(slot)]);
    }
    const per = (source: string) => published.filter((p) => p.source === source);
    expect(per('scraper:alpha')).toHaveLength(5);
    expect(per('scraper:beta')).toHaveLength(5);
    expect(new Set(per('scraper:alpha').map((p) => p.points[0].timestamp)).size).toBe(5);
    expect(per('scraper:self')).toHaveLength(10);
    expect(new Set(per('scraper:self').map((p) => p.replica))).toEqual(new Set(['r1', 'r2']));
    // Each batch ends with scraper_up 1 and the scrape's duration, at the slot's time.
    expect(per('scraper:alpha')[0].points.map((p) => [p.name, p.labels, p.timestamp])).toEqual([
      ['alpha_x', {}, 1000],
      ['scraper_up', { scraper: 'alpha' }, 1000],
      ['scraper_duration_seconds', { scraper: 'alpha' }, 1000],
    ]);
    expect(per('scraper:self')[0].points.find((p) => p.name === 'scraper_up')!.labels).toEqual({ scraper: 'self', instance: expect.any(String) });

    // The holder shuts down: its leases are released and the other replica takes over next cycle.
    const holder = published.find((p) => p.source === 'scraper:alpha')!.replica === 'r1' ? r1 : r2;
    const other = holder === r1 ? r2 : r1;
    await holder.scheduler.stop();
    published.length = 0;
    store.now = 6000;
    await other.scheduler.cycle(6000);
    expect(published.map((p) => p.source).sort()).toEqual(['scraper:alpha', 'scraper:beta', 'scraper:self']);
    await other.scheduler.stop();
  });

  it('isolates a failing or slow scraper: the others publish, it publishes scraper_up 0 and counts its error', async () => {
    const factories = registryOf(
      fakeScraper('ok', () => [point('ok_x')]),
      fakeScraper('broken', () => Promise.reject(new Error('connection refused'))),
      fakeScraper('slow', () => new Promise(() => undefined)),
    );
    const store = new MemoryLeaseStore();
    const published: { replica: string; source: string; points: MetricPoint[] }[] = [];
    const { scheduler, metrics } = replica(configFor(factories), store, 'r1', published);
    await scheduler.cycle(1000);
    const bySource = Object.fromEntries(published.map((p) => [p.source, p.points]));
    expect(bySource['scraper:ok'].map((p) => p.name)).toEqual(['ok_x', 'scraper_up', 'scraper_duration_seconds']);
    expect(bySource['scraper:broken'].find((p) => p.name === 'scraper_up')!.value).toBe(0);
    expect(bySource['scraper:slow'].find((p) => p.name === 'scraper_up')!.value).toBe(0);
    expect(await metricValue(metrics, 'headroom_scraper_errors_total', { scraper: 'broken', reason: 'collect_failed' })).toBe(1);
    expect(await metricValue(metrics, 'headroom_scraper_errors_total', { scraper: 'slow', reason: 'timeout' })).toBe(1);
    expect(await metricValue(metrics, 'headroom_scrapes_total', { scraper: 'ok' })).toBe(1);
    expect(await metricValue(metrics, 'headroom_scrapes_total', { scraper: 'broken' })).toBe(0);
    await scheduler.stop();
  });

  it('an unknown tenant: nothing is scraped or published, counted per scraper; scraping starts once it appears', async () => {
    const factories = registryOf(fakeScraper('alpha', () => [point('alpha_x')]));
    let known = false;
    const store = new MemoryLeaseStore();
    const published: { replica: string; source: string; points: MetricPoint[] }[] = [];
    const { scheduler, metrics } = replica(configFor(factories), store, 'r1', published, { known: () => known });
    await scheduler.cycle(1000);
    await scheduler.cycle(2000);
    expect(published).toEqual([]);
    expect(store.keys.size).toBe(0);
    expect(await metricValue(metrics, 'headroom_scraper_errors_total', { scraper: 'alpha', reason: 'unknown_tenant' })).toBe(2);
    known = true;
    await scheduler.cycle(3000);
    expect(published).toHaveLength(1);
    await scheduler.stop();
  });

  it('counts a refusal by the edge and a lease store that cannot answer, without publishing unleased', async () => {
    const factories = registryOf(fakeScraper('alpha', () => [point('alpha_x')]));
    const store = new MemoryLeaseStore();
    const published: { replica: string; source: string; points: MetricPoint[] }[] = [];
    const { scheduler, metrics } = replica(configFor(factories), store, 'r1', published, {
      submit: () => ({ ok: false, refusal: { status: 429, error: 'rate_limited', message: 'over the tenant limit' } }),
    });
    await scheduler.cycle(1000);
    expect(await metricValue(metrics, 'headroom_scraper_errors_total', { scraper: 'alpha', reason: 'refused_rate_limited' })).toBe(1);
    store.failing = true;
    published.length = 0;
    await scheduler.cycle(2000);
    expect(published).toEqual([]);
    expect(await metricValue(metrics, 'headroom_scraper_errors_total', { scraper: 'alpha', reason: 'lease_unavailable' })).toBe(1);
    store.failing = false;
    await scheduler.stop();
  });

  it('a scrape abandoned at its timeout still blocks the next one until it settles (never two at once)', async () => {
    let release!: () => void;
    let calls = 0;
    const factories = registryOf(
      fakeScraper('alpha', async () => {
        calls += 1;
        if (calls === 1) await new Promise<void>((r) => (release = r));
        return [point('alpha_x')];
      }),
    );
    const store = new MemoryLeaseStore();
    const published: { replica: string; source: string; points: MetricPoint[] }[] = [];
    const { scheduler, metrics } = replica(configFor(factories, { timeoutMs: 100 }), store, 'r1', published);
    await scheduler.cycle(1000); // times out: scraper_up 0
    expect(await metricValue(metrics, 'headroom_scraper_errors_total', { scraper: 'alpha', reason: 'timeout' })).toBe(1);
    await scheduler.cycle(2000); // the first collect is still running
    expect(await metricValue(metrics, 'headroom_scraper_errors_total', { scraper: 'alpha', reason: 'overrun' })).toBe(1);
    expect(calls).toBe(1);
    release();
    await new Promise((r) => setImmediate(r));
    await scheduler.cycle(3000);
    expect(calls).toBe(2);
    expect(published.map((p) => p.points.find((x) => x.name === 'scraper_up')!.value)).toEqual([0, 1]);
    await scheduler.stop();
  });

  it('never runs two scrapes of one scraper at once (a cycle that overruns the next is skipped and counted)', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const factories = registryOf(fakeScraper('alpha', async () => (await gate, [point('alpha_x')])));
    const store = new MemoryLeaseStore();
    const published: { replica: string; source: string; points: MetricPoint[] }[] = [];
    const { scheduler, metrics } = replica(configFor(factories, { timeoutMs: 1000 }), store, 'r1', published);
    const first = scheduler.cycle(1000);
    await new Promise((r) => setImmediate(r));
    await scheduler.cycle(2000);
    expect(await metricValue(metrics, 'headroom_scraper_errors_total', { scraper: 'alpha', reason: 'overrun' })).toBe(1);
    release();
    await first;
    expect(published).toHaveLength(1);
    await scheduler.stop();
  });
});
