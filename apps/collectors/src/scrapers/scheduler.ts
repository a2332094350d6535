import { Counter, Histogram, type Registry } from 'prom-client';
import type { MetricPoint } from '@headroom/contracts';
import type { KafkaClient } from '@headroom/kafka';
import type { Logger } from '@headroom/runtime';
import type { ScrapersConfig, ScraperEntry } from './config';
import { leaseKey, type ScrapeLeases } from './lease';
import type { Scraper } from './scraper';

/** What publishing a cycle's points answers (IngestService.submit's outcome, narrowed). */
export type SubmitOutcome = { ok: true } | { ok: false; refusal: { status: number; error: string; message: string; issues?: { path: string; message: string }[] } };

export interface SchedulerDeps {
  leases: ScrapeLeases;
  /** Whether the tenant is known (from the control topic) and not erased. */
  tenantKnown(tenant: string): boolean;
  /** The ingest edge: `IngestService.submit(tenant, { points }, { source })`. */
  submit(tenant: string, body: { points: MetricPoint[] }, opts: { source: string }): Promise<SubmitOutcome>;
  logger: Logger;
  metrics: Registry;
  /** `<hostname>/<pid>`. */
  instance: string;
  /** Handed to the scrapers (the `kafka` scraper reads consumer lag with it). */
  kafka?: KafkaClient;
  metricsToken?: string;
  now?: () => number;
}

interface Running {
  entry: ScraperEntry;
  scraper: Scraper;
  busy: boolean;
  /** A collect() still running — possibly past its cycle's timeout: the next one waits for it to settle. */
  collecting: boolean;
  /** Last error reason logged, so a scraper failing every cycle logs once per change. */
  lastError?: string;
}

/**
 * Runs every configured scraper at each interval boundary (ticks aligned to multiples of
 * `intervalMs` since the epoch, so replicas tick together), under a lease per tenant + scraper:
 * one replica per interval collects and publishes. Each scraper is isolated: one failing or slow
 * does not hold back the others (its error is counted in headroom_scraper_errors_total and
 * `scraper_up 0` is published for it). Points are stamped with the cycle's slot time.
 */
export class ScrapeScheduler {
  private readonly running: Running[];
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly inFlight = new Set<Promise<void>>();
  private tenantWarned = false;
  private readonly errors: Counter<'scraper' | 'reason'>;
  private readonly scrapes: Counter<'scraper'>;
  private readonly duration: Histogram<'scraper'>;
  private readonly now: () => number;

  constructor(
    private readonly config: ScrapersConfig,
    private readonly deps: SchedulerDeps,
  ) {
    this.now = deps.now ?? Date.now;
    this.running = config.scrapers.map((entry) => ({ entry, scraper: entry.factory.create(entry.config, { logger: deps.logger, instance: deps.instance, kafka: deps.kafka, metricsToken: deps.metricsToken }), busy: false, collecting: false }));
    this.errors = counter(deps.metrics, 'headroom_scraper_errors_total', 'Scrape cycles of a scraper that published nothing or only scraper_up 0, by reason (collect_failed, timeout, unknown_tenant, lease_unavailable, overrun, refused_<error>, publish_failed).', ['scraper', 'reason']);
    this.scrapes = counter(deps.metrics, 'headroom_scrapes_total', 'Scrape cycles this replica collected and published (it held the lease).', ['scraper']);
    this.duration =
      (deps.metrics.getSingleMetric('headroom_scrape_duration_seconds') as Histogram<'scraper'> | undefined) ??
      new Histogram({ name: 'headroom_scrape_duration_seconds', help: 'Time a scraper took to collect, on this replica.', labelNames: ['scraper'], buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10], registers: [deps.metrics] });
  }

  /** Starts ticking (a no-op once stopped). */
  start(): void {
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    const now = this.now();
    const next = Math.floor(now / this.config.intervalMs + 1) * this.config.intervalMs;
    this.timer = setTimeout(() => {
      const cycle = this.cycle(next);
      this.inFlight.add(cycle);
      void cycle.finally(() => this.inFlight.delete(cycle));
      this.schedule();
    }, next - now);
    this.timer.unref?.();
  }

  /** One cycle for the slot starting at `slot`: every scraper at once, each on its own. */
  async cycle(slot: number): Promise<void> {
    if (!this.deps.tenantKnown(this.config.tenant)) {
      if (!this.tenantWarned) this.deps.logger.warn({ tenant: this.config.tenant }, 'scrapers: tenant unknown (not created through control yet, or erased); nothing is scraped until it is');
      this.tenantWarned = true;
      for (const r of this.running) this.errors.inc({ scraper: r.entry.name, reason: 'unknown_tenant' });
      return;
    }
    if (this.tenantWarned) this.deps.logger.info({ tenant: this.config.tenant }, 'scrapers: tenant known; scraping');
    this.tenantWarned = false;
    await Promise.all(this.running.map((r) => this.runOne(r, slot)));
  }

  private async runOne(r: Running, slot: number): Promise<void> {
    const { name, factory } = r.entry;
    if (r.busy || r.collecting) {
      // The previous cycle's scrape (even one abandoned at its timeout) or publish is still running: never two at once.
      this.fail(r, 'overrun', 'scrape cycle skipped: the previous one is still running');
      return;
    }
    r.busy = true;
    try {
      const key = leaseKey(this.config.tenant, name, factory.scope === 'replica' ? this.deps.instance : undefined);
      let mine: boolean;
      try {
        mine = await this.deps.leases.claim(key);
      } catch (err) {
        this.fail(r, 'lease_unavailable', `lease store unavailable: ${message(err)}`);
        return;
      }
      if (!mine) return;

      const started = process.hrtime.bigint();
      const abort = new AbortController();
      let timer: NodeJS.Timeout | undefined;
      let points: MetricPoint[] = [];
      let failure: string | undefined;
      try {
        const collecting = r.scraper.collect({ timestamp: slot, signal: abort.signal });
        r.collecting = true;
        collecting.then(
          () => (r.collecting = false),
          () => (r.collecting = false),
        );
        points = await Promise.race([
          collecting,
          new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new ScrapeTimeout(this.config.timeoutMs)), this.config.timeoutMs))),
        ]);
      } catch (err) {
        abort.abort();
        failure = err instanceof ScrapeTimeout ? 'timeout' : 'collect_failed';
        this.fail(r, failure, message(err));
      } finally {
        clearTimeout(timer);
      }
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      this.duration.observe({ scraper: name }, seconds);
      const own: Record<string, string> = factory.scope === 'replica' ? { scraper: name, instance: this.deps.instance } : { scraper: name };
      points = [...points, { name: 'scraper_up', labels: own, value: failure ? 0 : 1, timestamp: slot }, { name: 'scraper_duration_seconds', labels: own, value: seconds, timestamp: slot, unit: 's' }];

      let outcome: SubmitOutcome;
      try {
        outcome = await this.deps.submit(this.config.tenant, { points }, { source: `scraper:${factory.type}` });
      } catch (err) {
        this.fail(r, 'publish_failed', message(err));
        return;
      }
      if (!outcome.ok) {
        const issues = outcome.refusal.issues?.slice(0, 5).map((i) => `${i.path}: ${i.message}`);
        this.fail(r, `refused_${outcome.refusal.error}`, outcome.refusal.message, issues);
        return;
      }
      if (failure) return;
      this.scrapes.inc({ scraper: name });
      if (r.lastError) this.deps.logger.info({ scraper: name }, 'scraper recovered');
      r.lastError = undefined;
    } finally {
      r.busy = false;
    }
  }

  private fail(r: Running, reason: string, msg: string, issues?: string[]): void {
    this.errors.inc({ scraper: r.entry.name, reason });
    if (r.lastError === reason) return;
    r.lastError = reason;
    this.deps.logger.warn({ scraper: r.entry.name, type: r.entry.factory.type, tenant: this.config.tenant, reason, err: msg, ...(issues ? { issues } : {}) }, 'scrape failed');
  }

  /** Stops ticking, waits for cycles in progress (up to `waitMs`), releases the leases, closes the scrapers. */
  async stop(waitMs = 5_000): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    let t: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.inFlight]), new Promise((r) => (t = setTimeout(r, waitMs)))]);
    clearTimeout(t);
    await this.deps.leases.releaseAll();
    await Promise.all(this.running.map((r) => r.scraper.close?.().catch(() => undefined)));
  }
}

class ScrapeTimeout extends Error {
  constructor(ms: number) {
    super(`scrape took longer than ${ms} ms`);
  }
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: L[]): Counter<L> {
  return (registry.getSingleMetric(name) as Counter<L> | undefined) ?? new Counter({ name, help, labelNames, registers: [registry] });
}
