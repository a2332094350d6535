import { Inject, Injectable, type BeforeApplicationShutdown } from '@nestjs/common';
import { Counter, type Registry } from 'prom-client';
import { DEFAULT_TENANT_LIMITS, type TenantLimits } from '@headroom/contracts';
import { LOGGER, METRICS, type Logger } from '@headroom/runtime';
import { TenantDirectory } from '@headroom/tenancy';
import { RESOLUTIONS, WindowsRepository } from './windows.repository';
import { CLOCK, WINDOW_BUDGETS, type WindowBudgets } from './windows.service';

/**
 * Background upkeep of the store: rollups (1 min from 10 s, 1 h from 1 min) as they fall due, and
 * retention (whole partitions dropped, per-tenant shorter retention deleted). Every replica may run
 * it: rollups take their queue rows with SKIP LOCKED, and retention is idempotent.
 */
@Injectable()
export class RollupsService implements BeforeApplicationShutdown {
  private rollupTimer: NodeJS.Timeout | undefined;
  private retentionTimer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();
  private readonly rolled: Counter<'outcome'>;

  constructor(
    @Inject(WindowsRepository) private readonly repo: WindowsRepository,
    @Inject(TenantDirectory) private readonly directory: TenantDirectory,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(CLOCK) private readonly now: () => number,
    @Inject(WINDOW_BUDGETS) private readonly budgets: WindowBudgets,
    @Inject(METRICS) registry: Registry,
  ) {
    this.rolled = new Counter({ name: 'headroom_analytics_rollups_total', help: 'Coarser windows (1 min, 1 h) computed from finer ones.', labelNames: ['outcome'], registers: [registry] });
  }

  start(rollupIntervalMs: number, retentionIntervalMs: number): void {
    this.rollupTimer = setInterval(() => void this.queue(() => this.rollUpDue()), rollupIntervalMs);
    this.retentionTimer = setInterval(() => void this.queue(() => this.applyRetention()), retentionIntervalMs);
    void this.queue(() => this.applyRetention());
  }

  private queue(work: () => Promise<unknown>): Promise<unknown> {
    this.running = this.running.then(work).catch((err) => this.logger.warn({ err: String(err) }, 'store upkeep failed; will retry'));
    return this.running;
  }

  /** Computes every rollup due now (in rounds of 2,000). */
  async rollUpDue(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.repo.rollUp(this.now(), 2_000, this.budgets.rollupDelayMs);
      total += n;
      this.rolled.inc({ outcome: 'written' }, n);
      if (n < 2_000) return total;
    }
  }

  async applyRetention(): Promise<void> {
    const now = this.now();
    for (const r of RESOLUTIONS) {
      const key = r.retention as keyof TenantLimits;
      const overrides = new Map<string, number>();
      for (const t of this.directory.tenants()) {
        const days = t.limits?.[key];
        if (typeof days === 'number') overrides.set(t.tenant, days);
      }
      const defaultDays = (this.budgets.defaults[key] as number | undefined) ?? (DEFAULT_TENANT_LIMITS[key] as number);
      const res = await this.repo.applyRetention(now, r, defaultDays, overrides);
      if (res.droppedPartitions || res.deletedRows) this.logger.info({ table: r.table, ...res }, 'retention applied');
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.rollupTimer);
    clearInterval(this.retentionTimer);
    await this.running;
  }
}
