import { Inject, Injectable, Optional, type BeforeApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { AggregateWindow } from '@headroom/contracts';
import { LOGGER, METRICS, type Logger } from '@headroom/runtime';
import { SubjectErasures, TenantDirectory } from '@headroom/tenancy';
import { renderExposition, type Exposition, type ExpositionFormat } from './exposition';
import { WINDOW_REPOSITORY, type WindowRepository } from './windows.repository';

export const PROMETHEUS_OPTIONS = Symbol('PROMETHEUS_OPTIONS');

export interface PrometheusOptions {
  groupId: string;
  stalenessSeconds: number;
  /** OpenMetrics pages carry every window applied this long ago or less; at least the scrape interval plus the pipeline's delay. Default 60. */
  lookbackSeconds?: number;
  /** Windows are kept, and revisions of them counted once, this long after they end; older ones are ignored. Default 7200 (over the 1 h maxSampleAgeMs default). */
  windowRetentionSeconds?: number;
  /** A series' counters are forgotten this long after its newest window ended (then restart from 0). Default 86400. */
  seriesRetentionSeconds?: number;
  /** False for a replica that only serves scrapes (its state is PostgreSQL's). Default true. */
  consume?: boolean;
  /** Test hook: the clock that decides staleness, lookback and retention. */
  now?: () => number;
}

/**
 * Applies each tenant's closed windows to PostgreSQL — windows, and counters that are cumulative since
 * a series started (see series-ledger.ts) — and renders them for Prometheus scrapes. Nothing is held
 * in memory between requests, so every replica serves every tenant the same page and a restart
 * resets no counter.
 */
@Injectable()
export class PrometheusService implements OnModuleInit, BeforeApplicationShutdown {
  private readonly stalenessMs: number;
  private readonly lookbackMs: number;
  private readonly retentionMs: number;
  private readonly seriesRetentionMs: number;
  private readonly now: () => number;
  private readonly windowsTotal: Counter<'outcome'>;
  private readonly collisions: Counter<'tenant'>;
  private pruneTimer: NodeJS.Timeout | undefined;
  private markMigrated: () => void = () => undefined;
  /** Erasures replayed from the control topic at boot may arrive before the tables exist. */
  private readonly migrated = new Promise<void>((resolve) => (this.markMigrated = resolve));

  constructor(
    @Inject(WINDOW_REPOSITORY) private readonly repository: WindowRepository,
    @Inject(TenantDirectory) private readonly directory: TenantDirectory,
    @Inject(PROMETHEUS_OPTIONS) options: PrometheusOptions,
    @Inject(METRICS) metrics: Registry,
    @Inject(LOGGER) private readonly logger: Logger,
    @Optional() @Inject(SubjectErasures) private readonly erasures?: SubjectErasures,
  ) {
    this.stalenessMs = options.stalenessSeconds * 1000;
    this.lookbackMs = (options.lookbackSeconds ?? 60) * 1000;
    // A window must outlive its freshness and the lookback, or a page would lose it early.
    this.retentionMs = Math.max((options.windowRetentionSeconds ?? 7200) * 1000, this.stalenessMs, this.lookbackMs);
    this.seriesRetentionMs = Math.max((options.seriesRetentionSeconds ?? 86_400) * 1000, this.retentionMs);
    this.now = options.now ?? Date.now;
    this.windowsTotal = new Counter({
      name: 'headroom_exporter_windows_total',
      help: 'Aggregate windows received, by outcome (applied; superseded: a replay of a revision already held; expired: ended before the retention horizon; erased: of a data subject erased after the window).',
      labelNames: ['outcome'],
      registers: [metrics],
    });
    this.collisions = new Counter({
      name: 'headroom_exporter_name_collisions_total',
      help: 'Metric families left out of a scrape because their derived names clash with another family.',
      labelNames: ['tenant'],
      registers: [metrics],
    });
    const windowsRepository = this.repository;
    const freshFrom = () => this.now() - this.stalenessMs;
    const log = this.logger;
    new Gauge({
      name: 'headroom_exporter_series',
      help: 'Series currently exposed on the per-tenant Prometheus endpoint (not stale), per tenant.',
      labelNames: ['tenant'],
      registers: [metrics],
      async collect() {
        try {
          const counts = await windowsRepository.freshSeriesCounts(freshFrom());
          this.reset();
          for (const [tenant, n] of counts) this.set({ tenant }, n);
        } catch (err) {
          log.warn({ err: String(err) }, 'could not count exposed series');
        }
      },
    });
    directory.onRecord((record) => {
      if (record.kind === 'tenant_erased') void this.erase(record.tenant);
    });
  }

  async onModuleInit(): Promise<void> {
    await this.repository.migrate();
    this.markMigrated();
    this.pruneTimer = setInterval(() => void this.prune(), Math.min(60_000, this.stalenessMs));
    this.pruneTimer.unref();
  }

  beforeApplicationShutdown(): void {
    if (this.pruneTimer) clearInterval(this.pruneTimer);
  }

  /** Applies one batch of a tenant's windows, durably. Throws (retriable) if the database is down. */
  async record(tenant: string, windows: readonly AggregateWindow[]): Promise<void> {
    if (this.directory.isErased(tenant)) return;
    // An erased subject's windows from before its request, still on the topic, do not re-create its
    // series. coversLabels answers at once while nobody is erased: no copy of the batch then.
    const erased = this.erasures;
    if (erased && windows.some((w) => erased.coversLabels(tenant, w.series.labels, w.windowStart))) {
      const kept = windows.filter((w) => !erased.coversLabels(tenant, w.series.labels, w.windowStart));
      this.windowsTotal.inc({ outcome: 'erased' }, windows.length - kept.length);
      if (kept.length === 0) return;
      windows = kept;
    }
    const now = this.now();
    const outcomes = await this.repository.apply(tenant, windows, { now, expiredBefore: now - this.retentionMs });
    for (const [outcome, n] of Object.entries(outcomes)) if (n > 0) this.windowsTotal.inc({ outcome }, n);
  }

  /** The tenant's page. Throws if the database is unreachable. */
  async exposition(tenant: string, format: ExpositionFormat): Promise<Exposition> {
    const now = this.now();
    const windows = await this.repository.exposed(tenant, {
      freshFrom: now - this.stalenessMs,
      ...(format === 'openmetrics' ? { appliedAfter: now - this.lookbackMs } : {}),
    });
    const result = renderExposition(windows, format);
    if (result.collisions.length) this.collisions.inc({ tenant }, result.collisions.length);
    return result;
  }

  /** Bounds the tables: old windows can no longer be exposed or revised; long-silent series' counters restart. */
  async prune(): Promise<void> {
    const now = this.now();
    try {
      await this.repository.prune(now - this.retentionMs, now - this.seriesRetentionMs);
    } catch (err) {
      this.logger.warn({ err: String(err) }, 'could not prune old windows; will retry');
    }
  }

  private async erase(tenant: string): Promise<void> {
    try {
      await this.migrated;
      await this.repository.deleteTenant(tenant);
      this.logger.info({ tenant }, 'erased tenant: windows and counters deleted');
    } catch (err) {
      // The control topic is replayed at every boot, so the next start deletes them again.
      this.logger.error({ tenant, err: String(err) }, "could not delete an erased tenant's windows");
    }
  }
}
