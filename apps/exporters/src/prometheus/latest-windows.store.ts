import type { AggregateWindow } from '@headroom/contracts';

export const windowEnd = (w: AggregateWindow): number => w.windowStart + w.windowMs;

/**
 * The latest closed window per tenant and series, in memory (the endpoint is scraped often; the
 * database is only its durable copy). A window replaces the held one only if it starts at the same
 * time or later, so replays and out-of-order redelivery never move a series backwards.
 */
export class LatestWindows {
  private readonly byTenant = new Map<string, Map<string, AggregateWindow>>();

  /** Whether `window` is at least as new as the held one (i.e. `offer` would keep it). */
  isCurrent(tenant: string, window: AggregateWindow): boolean {
    const held = this.byTenant.get(tenant)?.get(window.seriesId);
    return !held || held.windowStart <= window.windowStart;
  }

  /** Keeps `window` if it is current; returns whether it was kept. */
  offer(tenant: string, window: AggregateWindow): boolean {
    if (!this.isCurrent(tenant, window)) return false;
    const series = this.byTenant.get(tenant) ?? this.byTenant.set(tenant, new Map()).get(tenant)!;
    series.set(window.seriesId, window);
    return true;
  }

  /** The tenant's series whose latest window ended no more than `stalenessMs` before `now`. */
  fresh(tenant: string, now: number, stalenessMs: number): AggregateWindow[] {
    const series = this.byTenant.get(tenant);
    if (!series) return [];
    return [...series.values()].filter((w) => now - windowEnd(w) <= stalenessMs);
  }

  /** Fresh series per tenant (tenants with none are left out). */
  freshCounts(now: number, stalenessMs: number): Map<string, number> {
    const counts = new Map<string, number>();
    for (const tenant of this.byTenant.keys()) {
      const n = this.fresh(tenant, now, stalenessMs).length;
      if (n > 0) counts.set(tenant, n);
    }
    return counts;
  }

  /** Forgets windows that ended before `cutoff`; returns how many. */
  prune(cutoff: number): number {
    let removed = 0;
    for (const [tenant, series] of this.byTenant) {
      for (const [id, w] of series) {
        if (windowEnd(w) < cutoff) {
          series.delete(id);
          removed += 1;
        }
      }
      if (series.size === 0) this.byTenant.delete(tenant);
    }
    return removed;
  }

  dropTenant(tenant: string): void {
    this.byTenant.delete(tenant);
  }
}
