import { Inject, Injectable } from '@nestjs/common';
import type { Pool, PoolClient } from 'pg';
import type { AggregateWindow, Series } from '@headroom/contracts';
import { inTransaction, migrateSchema, PG_POOL } from '@headroom/database';
import { applyWindows, windowKey, type LedgerOutcomes, type SeriesState, type StoredWindow } from './series-ledger';

export const WINDOW_REPOSITORY = Symbol('WINDOW_REPOSITORY');

/** A window ready to render, with its series. */
export interface ExposedWindow extends Omit<StoredWindow, 'revision' | 'appliedAt'> {
  series: Series;
  unit?: string;
  /** Whether it is its series' newest window. */
  latest: boolean;
}

export interface ExposedQuery {
  /** Series whose newest window ended before this (ms) are stale and left out. */
  freshFrom: number;
  /** Also return the fresh series' other windows applied after this (ms); only the newest windows when absent. */
  appliedAfter?: number;
}

/**
 * Everything the endpoint serves lives here (PostgreSQL in production), never in a replica's memory:
 * any replica can answer any tenant's scrape, whichever replica consumed its windows.
 */
export interface WindowRepository {
  migrate(): Promise<void>;
  /** Applies a tenant's windows atomically (see applyWindows); safe against a concurrent batch of the same series. */
  apply(tenant: string, windows: readonly AggregateWindow[], opts: { now: number; expiredBefore: number }): Promise<LedgerOutcomes>;
  exposed(tenant: string, query: ExposedQuery): Promise<ExposedWindow[]>;
  /** Fresh series per tenant (tenants with none are left out). */
  freshSeriesCounts(freshFrom: number): Promise<Map<string, number>>;
  /** Drops windows that ended before `windowsEndedBefore` and series whose newest window ended before `seriesEndedBefore`. */
  prune(windowsEndedBefore: number, seriesEndedBefore: number): Promise<void>;
  deleteTenant(tenant: string): Promise<void>;
}

const MIGRATION = `
create schema if not exists exporters;
drop table if exists exporters.latest_windows;
create table if not exists exporters.prometheus_series (
  tenant text not null,
  series_id text not null,
  series jsonb not null,
  unit text,
  points_total bigint not null default 0,
  points_sum_total double precision not null default 0,
  frontier_start bigint,
  frontier_ms integer,
  frontier_end bigint,
  primary key (tenant, series_id)
);
create table if not exists exporters.prometheus_windows (
  tenant text not null,
  series_id text not null,
  window_start bigint not null,
  window_ms integer not null,
  window_end bigint not null,
  revision integer not null,
  count bigint not null,
  sum double precision not null,
  min double precision not null,
  max double precision not null,
  p50 double precision not null,
  p95 double precision not null,
  p99 double precision not null,
  points_total bigint,
  points_sum_total double precision,
  applied_at bigint not null,
  primary key (tenant, series_id, window_start, window_ms)
);
create index if not exists prometheus_windows_applied on exporters.prometheus_windows (tenant, applied_at);
create index if not exists prometheus_windows_end on exporters.prometheus_windows (window_end);
create index if not exists prometheus_series_frontier on exporters.prometheus_series (frontier_end);`;

interface SeriesRow {
  series_id: string;
  series: Series;
  unit: string | null;
  points_total: string;
  points_sum_total: number;
  frontier_start: string | null;
  frontier_ms: number | null;
}

interface WindowRow {
  series_id: string;
  window_start: string;
  window_ms: number;
  revision: number;
  count: string;
  sum: number;
  min: number;
  max: number;
  p50: number;
  p95: number;
  p99: number;
  points_total: string | null;
  points_sum_total: number | null;
  applied_at: string;
}

// bigint columns arrive as strings; epoch milliseconds and point counts fit a double exactly.
const num = (v: string | null): number | null => (v === null ? null : Number(v));

function toStored(r: WindowRow): StoredWindow {
  return {
    seriesId: r.series_id,
    windowStart: Number(r.window_start),
    windowMs: r.window_ms,
    revision: r.revision,
    count: Number(r.count),
    sum: r.sum,
    min: r.min,
    max: r.max,
    p50: r.p50,
    p95: r.p95,
    p99: r.p99,
    pointsTotal: num(r.points_total),
    pointsSumTotal: r.points_sum_total,
    appliedAt: Number(r.applied_at),
  };
}

@Injectable()
export class PostgresWindowRepository implements WindowRepository {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  async migrate(): Promise<void> {
    await migrateSchema(this.pool, 'exporters', MIGRATION);
  }

  async apply(tenant: string, windows: readonly AggregateWindow[], opts: { now: number; expiredBefore: number }): Promise<LedgerOutcomes> {
    if (windows.length === 0) return { applied: 0, superseded: 0, expired: 0 };
    return inTransaction(this.pool, async (db) => {
      const held = await this.lockHeld(db, tenant, windows);
      const result = applyWindows(held, windows, opts);
      await this.write(db, tenant, result.series, result.windows);
      return result.outcomes;
    });
  }

  /**
   * Locks the batch's series rows (created if new) in series-id order, then reads their windows. Two
   * batches of one series (a rebalance overlap, or two consumer groups) serialise on the row lock, and
   * the second reads the first's windows after it committed, so no revision is counted twice.
   */
  private async lockHeld(db: PoolClient, tenant: string, windows: readonly AggregateWindow[]) {
    const firstOf = new Map<string, AggregateWindow>();
    for (const w of windows) if (!firstOf.has(w.seriesId)) firstOf.set(w.seriesId, w);
    const ids = [...firstOf.keys()].sort();
    await db.query(
      `insert into exporters.prometheus_series (tenant, series_id, series, unit)
       select $1, s.id, s.series, s.unit from jsonb_to_recordset($2::jsonb) as s(id text, series jsonb, unit text)
       order by s.id
       on conflict (tenant, series_id) do nothing`,
      [tenant, JSON.stringify(ids.map((id) => ({ id, series: firstOf.get(id)!.series, unit: firstOf.get(id)!.unit ?? null })))],
    );
    const seriesRows = await db.query<SeriesRow>(
      `select series_id, series, unit, points_total, points_sum_total, frontier_start, frontier_ms
         from exporters.prometheus_series where tenant = $1 and series_id = any($2::text[])
        order by series_id for update`,
      [tenant, ids],
    );
    const keys = windows.map((w) => ({ id: w.seriesId, start: w.windowStart, ms: w.windowMs }));
    const windowRows = await db.query<WindowRow>(
      `select w.* from exporters.prometheus_windows w
         join jsonb_to_recordset($2::jsonb) as k(id text, start bigint, ms integer)
           on w.series_id = k.id and w.window_start = k.start and w.window_ms = k.ms
        where w.tenant = $1`,
      [tenant, JSON.stringify(keys)],
    );
    const series = new Map<string, SeriesState>();
    for (const r of seriesRows.rows) {
      series.set(r.series_id, {
        seriesId: r.series_id,
        series: r.series,
        unit: r.unit,
        pointsTotal: Number(r.points_total),
        pointsSumTotal: r.points_sum_total,
        frontier: r.frontier_start === null || r.frontier_ms === null ? null : { windowStart: Number(r.frontier_start), windowMs: r.frontier_ms },
      });
    }
    const held = new Map<string, StoredWindow>();
    for (const r of windowRows.rows) {
      const w = toStored(r);
      held.set(windowKey(w.seriesId, w.windowStart, w.windowMs), w);
    }
    return { series, windows: held };
  }

  private async write(db: PoolClient, tenant: string, series: SeriesState[], windows: StoredWindow[]): Promise<void> {
    if (windows.length > 0) {
      await db.query(
        `insert into exporters.prometheus_windows as t
           (tenant, series_id, window_start, window_ms, window_end, revision, count, sum, min, max, p50, p95, p99, points_total, points_sum_total, applied_at)
         select $1, w."seriesId", w."windowStart", w."windowMs", w."windowStart" + w."windowMs", w.revision, w.count, w.sum, w.min, w.max,
                w.p50, w.p95, w.p99, w."pointsTotal", w."pointsSumTotal", w."appliedAt"
           from jsonb_to_recordset($2::jsonb) as w("seriesId" text, "windowStart" bigint, "windowMs" integer, revision integer, count bigint,
                sum double precision, min double precision, max double precision, p50 double precision, p95 double precision,
                p99 double precision, "pointsTotal" bigint, "pointsSumTotal" double precision, "appliedAt" bigint)
         on conflict (tenant, series_id, window_start, window_ms) do update set
           revision = excluded.revision, count = excluded.count, sum = excluded.sum, min = excluded.min, max = excluded.max,
           p50 = excluded.p50, p95 = excluded.p95, p99 = excluded.p99`,
        [tenant, JSON.stringify(windows)],
      );
    }
    if (series.length > 0) {
      await db.query(
        `update exporters.prometheus_series s set
           series = u.series, unit = u.unit, points_total = u."pointsTotal", points_sum_total = u."pointsSumTotal",
           frontier_start = u.start, frontier_ms = u.ms, frontier_end = u.start + u.ms
           from jsonb_to_recordset($2::jsonb) as u("seriesId" text, series jsonb, unit text, "pointsTotal" bigint,
                "pointsSumTotal" double precision, start bigint, ms integer)
          where s.tenant = $1 and s.series_id = u."seriesId"`,
        [tenant, JSON.stringify(series.map((s) => ({ ...s, start: s.frontier?.windowStart ?? null, ms: s.frontier?.windowMs ?? null })))],
      );
    }
  }

  async exposed(tenant: string, query: ExposedQuery): Promise<ExposedWindow[]> {
    const columns = `s.series_id, s.series, s.unit, w.window_start, w.window_ms, w.count, w.sum, w.min, w.max, w.p50, w.p95, w.p99,
                     w.points_total, w.points_sum_total`;
    const fresh = `with s as (
        select series_id, series, unit, frontier_start, frontier_ms from exporters.prometheus_series
         where tenant = $1 and frontier_end >= $2)`;
    const newest = `select ${columns}, true as latest from s join exporters.prometheus_windows w
        on w.tenant = $1 and w.series_id = s.series_id and w.window_start = s.frontier_start and w.window_ms = s.frontier_ms`;
    const recent = `select ${columns}, false as latest from exporters.prometheus_windows w join s on s.series_id = w.series_id
        where w.tenant = $1 and w.applied_at > $3 and not (w.window_start = s.frontier_start and w.window_ms = s.frontier_ms)`;
    const { rows } =
      query.appliedAfter === undefined
        ? await this.pool.query<WindowRow & { series: Series; unit: string | null; latest: boolean }>(`${fresh} ${newest}`, [tenant, query.freshFrom])
        : await this.pool.query<WindowRow & { series: Series; unit: string | null; latest: boolean }>(`${fresh} ${newest} union all ${recent}`, [
            tenant,
            query.freshFrom,
            query.appliedAfter,
          ]);
    return rows.map((r) => ({
      series: r.series,
      seriesId: r.series_id,
      windowStart: Number(r.window_start),
      windowMs: r.window_ms,
      count: Number(r.count),
      sum: r.sum,
      min: r.min,
      max: r.max,
      p50: r.p50,
      p95: r.p95,
      p99: r.p99,
      pointsTotal: num(r.points_total),
      pointsSumTotal: r.points_sum_total,
      latest: r.latest,
      ...(r.unit === null ? {} : { unit: r.unit }),
    }));
  }

  async freshSeriesCounts(freshFrom: number): Promise<Map<string, number>> {
    const { rows } = await this.pool.query<{ tenant: string; n: string }>(
      'select tenant, count(*) as n from exporters.prometheus_series where frontier_end >= $1 group by tenant',
      [freshFrom],
    );
    return new Map(rows.map((r) => [r.tenant, Number(r.n)]));
  }

  async prune(windowsEndedBefore: number, seriesEndedBefore: number): Promise<void> {
    await this.pool.query('delete from exporters.prometheus_windows where window_end < $1', [windowsEndedBefore]);
    // A series row without a frontier holds no counts (all its windows were replays or expired).
    await this.pool.query('delete from exporters.prometheus_series where frontier_end < $1 or frontier_end is null', [seriesEndedBefore]);
  }

  async deleteTenant(tenant: string): Promise<void> {
    await inTransaction(this.pool, async (db) => {
      await db.query('delete from exporters.prometheus_windows where tenant = $1', [tenant]);
      await db.query('delete from exporters.prometheus_series where tenant = $1', [tenant]);
    });
  }
}
