import { Inject, Injectable, type BeforeApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { AggregateWindow } from '@headroom/contracts';
import { LOGGER, METRICS, type Logger } from '@headroom/runtime';
import { TenantDirectory } from '@headroom/tenancy';
import { renderExposition, type Exposition } from './exposition';
import { WINDOW_REPOSITORY, type WindowRepository } from './latest-windows.repository';
import { LatestWindows } from './latest-windows.store';

export const PROMETHEUS_OPTIONS = Symbol('PROMETHEUS_OPTIONS');

export interface PrometheusOptions {
  groupId: string;
  stalenessSeconds: number;
  /** Test hook: the clock that decides staleness. */
  now?: () => number;
}

/**
 * Keeps each tenant's latest closed window per series (memory for scrapes, PostgreSQL so a restart
 * loses nothing) and renders it for Prometheus. A window is written to the database before it is
 * served, so whatever a scrape has seen survives a crash.
 */
@Injectable()
export class PrometheusService implements OnModuleInit, BeforeApplicationShutdown {
  private readonly windows = new LatestWindows();
  private readonly stalenessMs: number;
  private readonly now: () => number;
  private readonly applied: Counter<'outcome'>;
  private readonly collisions: Counter<'tenant'>;
  private pruneTimer: NodeJS.Timeout | undefined;
  private markMigrated: () => void = () => undefined;
  /** Erasures replayed from the control topic at boot may arrive before the table exists. */
  private readonly migrated = new Promise<void>((resolve) => (this.markMigrated = resolve));

  constructor(
    @Inject(WINDOW_REPOSITORY) private readonly repository: WindowRepository,
    @Inject(TenantDirectory) private readonly directory: TenantDirectory,
    @Inject(PROMETHEUS_OPTIONS) options: PrometheusOptions,
    @Inject(METRICS) metrics: Registry,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    this.stalenessMs = options.stalenessSeconds * 1000;
    this.now = options.now ?? Date.now;
    this.applied = new Counter({
      name: 'headroom_exporter_windows_total',
      help: 'Aggregate windows received, by outcome (applied, superseded: older than the one held).',
      labelNames: ['outcome'],
      registers: [metrics],
    });
    this.collisions = new Counter({
      name: 'headroom_exporter_name_collisions_total',
      help: 'Metric families left out of a scrape because their derived names clash with another family.',
      labelNames: ['tenant'],
      registers: [metrics],
    });
    const windows = this.windows;
    const stalenessMs = this.stalenessMs;
    const now = this.now;
    new Gauge({
      name: 'headroom_exporter_series',
      help: 'Series currently exposed on the per-tenant Prometheus endpoint (not stale), per tenant.',
      labelNames: ['tenant'],
      registers: [metrics],
      collect() {
        this.reset();
        for (const [tenant, n] of windows.freshCounts(now(), stalenessMs)) this.set({ tenant }, n);
      },
    });
    directory.onRecord((record) => {
      if (record.kind === 'tenant_erased') void this.erase(record.tenant);
    });
  }

  async onModuleInit(): Promise<void> {
    await this.repository.migrate();
    this.markMigrated();
    const rows = await this.repository.loadAll();
    for (const { tenant, window } of rows) if (!this.directory.isErased(tenant)) this.windows.offer(tenant, window);
    this.logger.info({ series: rows.length }, 'latest windows loaded from PostgreSQL');
    this.pruneTimer = setInterval(() => void this.prune(), Math.min(60_000, this.stalenessMs));
    this.pruneTimer.unref();
  }

  beforeApplicationShutdown(): void {
    if (this.pruneTimer) clearInterval(this.pruneTimer);
  }

  /** Applies one batch of a tenant's windows: durable first, then visible. Throws (retriable) if the database is down. */
  async record(tenant: string, windows: readonly AggregateWindow[]): Promise<void> {
    const current = windows.filter((w) => this.windows.isCurrent(tenant, w));
    await this.repository.upsert(tenant, current);
    for (const w of current) this.windows.offer(tenant, w);
    this.applied.inc({ outcome: 'applied' }, current.length);
    this.applied.inc({ outcome: 'superseded' }, windows.length - current.length);
  }

  async exposition(tenant: string): Promise<Exposition> {
    const result = await renderExposition(this.windows.fresh(tenant, this.now(), this.stalenessMs));
    if (result.collisions.length) this.collisions.inc({ tenant }, result.collisions.length);
    return result;
  }

  /** Stale windows are never served again; dropping them bounds memory and the table. */
  async prune(): Promise<void> {
    const cutoff = this.now() - this.stalenessMs;
    this.windows.prune(cutoff);
    try {
      await this.repository.deleteEndedBefore(cutoff);
    } catch (err) {
      this.logger.warn({ err: String(err) }, 'could not prune stale windows; will retry');
    }
  }

  private async erase(tenant: string): Promise<void> {
    this.windows.dropTenant(tenant);
    try {
      await this.migrated;
      await this.repository.deleteTenant(tenant);
      this.logger.info({ tenant }, 'erased tenant: latest windows deleted');
    } catch (err) {
      // The control topic is replayed at every boot, so the next start deletes them again.
      this.logger.error({ tenant, err: String(err) }, 'could not delete an erased tenant\'s windows');
    }
  }
}
