import type { Pool } from 'pg';
import { inTransaction, migrateSchema } from '@headroom/database';
import type { ClosedWindow } from './window-aggregator';

const MIGRATION = `
create schema if not exists analytics;
create table if not exists analytics.aggregates (
  tenant text not null,
  series_id text not null,
  window_start bigint not null,
  window_ms int not null,
  name text not null,
  labels jsonb not null,
  count bigint not null,
  sum double precision not null,
  min double precision not null,
  max double precision not null,
  p50 double precision not null,
  p95 double precision not null,
  p99 double precision not null,
  unit text,
  updated_at timestamptz not null default now(),
  primary key (tenant, series_id, window_start)
);
create table if not exists analytics.tenant_progress (
  tenant text primary key,
  closed_until bigint not null
);
`;

/** analytics' own schema: closed windows (upserted, so a replay rewrites the same row) and per-tenant progress. */
export class AggregatesRepository {
  constructor(private readonly pool: Pool) {}

  async migrate(): Promise<void> {
    await migrateSchema(this.pool, 'analytics', MIGRATION);
  }

  async loadProgress(): Promise<Map<string, number>> {
    const { rows } = await this.pool.query<{ tenant: string; closed_until: string }>('select tenant, closed_until from analytics.tenant_progress');
    return new Map(rows.map((r) => [r.tenant, Number(r.closed_until)]));
  }

  /** Upserts windows and advances each tenant's progress in one transaction. */
  async save(windows: ClosedWindow[], progress: Map<string, number>): Promise<void> {
    await inTransaction(this.pool, async (db) => {
      for (const { tenant, window: w } of windows) {
        await db.query(
          `insert into analytics.aggregates (tenant, series_id, window_start, window_ms, name, labels, count, sum, min, max, p50, p95, p99, unit)
           values ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)
           on conflict (tenant, series_id, window_start) do update set
             count = excluded.count, sum = excluded.sum, min = excluded.min, max = excluded.max,
             p50 = excluded.p50, p95 = excluded.p95, p99 = excluded.p99, updated_at = now()`,
          [tenant, w.seriesId, w.windowStart, w.windowMs, w.series.name, JSON.stringify(w.series.labels), w.count, w.sum, w.min, w.max, w.p50, w.p95, w.p99, w.unit ?? null],
        );
      }
      for (const [tenant, until] of progress) {
        await db.query(
          `insert into analytics.tenant_progress (tenant, closed_until) values ($1, $2)
           on conflict (tenant) do update set closed_until = greatest(analytics.tenant_progress.closed_until, excluded.closed_until)`,
          [tenant, until],
        );
      }
    });
  }

  /** Erasure: the tenant's windows and its progress row (keyed by the tenant id) go together. */
  async deleteTenant(tenant: string): Promise<void> {
    await inTransaction(this.pool, async (db) => {
      await db.query('delete from analytics.aggregates where tenant = $1', [tenant]);
      await db.query('delete from analytics.tenant_progress where tenant = $1', [tenant]);
    });
  }
}
