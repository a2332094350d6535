import { Inject, Injectable } from '@nestjs/common';
import type { Pool } from 'pg';
import type { AggregateWindow } from '@headroom/contracts';
import { migrateSchema, PG_POOL } from '@headroom/database';

export const WINDOW_REPOSITORY = Symbol('WINDOW_REPOSITORY');

/** Durable copy of the latest windows; an in-memory one stands in for it in unit specs. */
export interface WindowRepository {
  migrate(): Promise<void>;
  loadAll(): Promise<{ tenant: string; window: AggregateWindow }[]>;
  /** Upserts each window unless a newer one (later window start) is already stored. */
  upsert(tenant: string, windows: readonly AggregateWindow[]): Promise<void>;
  deleteEndedBefore(cutoffMs: number): Promise<number>;
  deleteTenant(tenant: string): Promise<void>;
}

const MIGRATION = `
create schema if not exists exporters;
create table if not exists exporters.latest_windows (
  tenant text not null,
  series_id text not null,
  series jsonb not null,
  window_start bigint not null,
  window_ms integer not null,
  count bigint not null,
  sum double precision not null,
  min double precision not null,
  max double precision not null,
  p50 double precision not null,
  p95 double precision not null,
  p99 double precision not null,
  unit text,
  updated_at timestamptz not null default now(),
  primary key (tenant, series_id)
);`;

interface Row {
  tenant: string;
  series_id: string;
  series: AggregateWindow['series'];
  window_start: string;
  window_ms: number;
  count: string;
  sum: number;
  min: number;
  max: number;
  p50: number;
  p95: number;
  p99: number;
  unit: string | null;
}

@Injectable()
export class PostgresWindowRepository implements WindowRepository {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  async migrate(): Promise<void> {
    await migrateSchema(this.pool, 'exporters', MIGRATION);
  }

  async loadAll(): Promise<{ tenant: string; window: AggregateWindow }[]> {
    const { rows } = await this.pool.query<Row>('select * from exporters.latest_windows');
    return rows.map((r) => ({
      tenant: r.tenant,
      window: {
        series: r.series,
        seriesId: r.series_id,
        // bigint columns arrive as strings; epoch milliseconds and counts fit a double exactly.
        windowStart: Number(r.window_start),
        windowMs: r.window_ms,
        count: Number(r.count),
        sum: r.sum,
        min: r.min,
        max: r.max,
        p50: r.p50,
        p95: r.p95,
        p99: r.p99,
        ...(r.unit === null ? {} : { unit: r.unit }),
      },
    }));
  }

  async upsert(tenant: string, windows: readonly AggregateWindow[]): Promise<void> {
    if (windows.length === 0) return;
    // One statement per batch; a series may appear once only (ON CONFLICT cannot touch a row twice).
    const latest = new Map<string, AggregateWindow>();
    for (const w of windows) {
      const held = latest.get(w.seriesId);
      if (!held || held.windowStart <= w.windowStart) latest.set(w.seriesId, w);
    }
    const rows = [...latest.values()].map((w) => ({
      series_id: w.seriesId,
      series: w.series,
      window_start: w.windowStart,
      window_ms: w.windowMs,
      count: w.count,
      sum: w.sum,
      min: w.min,
      max: w.max,
      p50: w.p50,
      p95: w.p95,
      p99: w.p99,
      unit: w.unit ?? null,
    }));
    await this.pool.query(
      `insert into exporters.latest_windows as t
         (tenant, series_id, series, window_start, window_ms, count, sum, min, max, p50, p95, p99, unit, updated_at)
       select $1, w.series_id, w.series, w.window_start, w.window_ms, w.count, w.sum, w.min, w.max, w.p50, w.p95, w.p99, w.unit, now()
         from jsonb_to_recordset($2::jsonb) as w(series_id text, series jsonb, window_start bigint, window_ms integer, count bigint,
              sum double precision, min double precision, max double precision, p50 double precision, p95 double precision,
              p99 double precision, unit text)
       on conflict (tenant, series_id) do update set
         series = excluded.series, window_start = excluded.window_start, window_ms = excluded.window_ms, count = excluded.count,
         sum = excluded.sum, min = excluded.min, max = excluded.max, p50 = excluded.p50, p95 = excluded.p95, p99 = excluded.p99,
         unit = excluded.unit, updated_at = excluded.updated_at
       where t.window_start <= excluded.window_start`,
      [tenant, JSON.stringify(rows)],
    );
  }

  async deleteEndedBefore(cutoffMs: number): Promise<number> {
    const res = await this.pool.query('delete from exporters.latest_windows where window_start + window_ms < $1', [cutoffMs]);
    return res.rowCount ?? 0;
  }

  async deleteTenant(tenant: string): Promise<void> {
    await this.pool.query('delete from exporters.latest_windows where tenant = $1', [tenant]);
  }
}
