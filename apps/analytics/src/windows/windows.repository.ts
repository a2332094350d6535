import type { Pool, PoolClient } from 'pg';
import { WindowSketch, type AggregateWindow } from '@headroom/contracts';
import { inTransaction, migrateSchema } from '@headroom/database';
import { summarise, type ClosedWindow, type LatePoints } from './window-aggregator';

/** The stored resolutions: 10 s windows as they close, 1 min and 1 h merged from the finer ones. */
export const RESOLUTIONS = [
  { windowMs: 10_000, table: 'analytics.windows_10s', partitionMs: 24 * 3600_000, retention: 'retentionDays10s' },
  { windowMs: 60_000, table: 'analytics.windows_1m', partitionMs: 7 * 24 * 3600_000, retention: 'retentionDays1m' },
  { windowMs: 3600_000, table: 'analytics.windows_1h', partitionMs: 30 * 24 * 3600_000, retention: 'retentionDays1h' },
] as const;
export type Resolution = (typeof RESOLUTIONS)[number];

const windowTable = (name: string) => `
create table if not exists ${name} (
  tenant text not null,
  series_id text not null,
  window_start bigint not null,
  name text not null,
  labels jsonb not null,
  count bigint not null,
  sum double precision not null,
  min double precision not null,
  max double precision not null,
  p50 double precision not null,
  p95 double precision not null,
  p99 double precision not null,
  sketch bytea not null,
  unit text,
  revision int not null default 0,
  src_partition int,
  last_offset bigint,
  updated_at timestamptz not null default now(),
  primary key (tenant, series_id, window_start)
) partition by range (window_start);`;

const MIGRATION = `
create schema if not exists analytics;
-- The pre-sketch format (exact quantiles, progress per tenant) is superseded.
drop table if exists analytics.aggregates;
drop table if exists analytics.tenant_progress;
${RESOLUTIONS.map((r) => windowTable(r.table)).join('\n')}
create table if not exists analytics.progress (
  tenant text not null,
  partition int not null,
  closed_until bigint not null,
  primary key (tenant, partition)
);
create table if not exists analytics.rollup_queue (
  tenant text not null,
  series_id text not null,
  window_ms int not null,
  window_start bigint not null,
  due_at bigint not null,
  primary key (tenant, series_id, window_ms, window_start)
);
create index if not exists rollup_queue_due on analytics.rollup_queue (due_at);
`;

/** A window as stored, with what a merge needs. */
interface StoredRow {
  tenant: string;
  series_id: string;
  window_start: string;
  name: string;
  labels: Record<string, string>;
  unit: string | null;
  count: string;
  sum: number;
  min: number;
  max: number;
  sketch: Buffer;
  revision: number;
  src_partition: number | null;
  last_offset: string | null;
}

/** What one flush writes: windows (closed or revised) and the streams' progress. */
export interface WindowWrite {
  tenant: string;
  partition: number;
  window: AggregateWindow;
  sketch: Buffer;
  lastOffset: number;
}

/** Errors that come from the data of one write (SQLSTATE class 22/23): retrying cannot help. */
export function isDataError(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
}

const key3 = (tenant: string, seriesId: string, start: number) => `${tenant}\u0000${seriesId}\u0000${start}`;

/**
 * analytics' own schema: windows at three resolutions in time-partitioned tables (partitions made
 * ahead of the writes, dropped whole by retention), per-stream progress, and the rollup queue.
 */
export class WindowsRepository {
  private readonly partitions = new Set<string>();

  constructor(private readonly pool: Pool) {}

  async migrate(): Promise<void> {
    await migrateSchema(this.pool, 'analytics', MIGRATION);
  }

  async loadProgress(tenant: string, partition: number): Promise<number> {
    const { rows } = await this.pool.query<{ closed_until: string }>('select closed_until from analytics.progress where tenant = $1 and partition = $2', [tenant, partition]);
    return rows.length ? Number(rows[0].closed_until) : 0;
  }

  /**
   * Creates the partitions that windows starting at `starts` fall in (idempotent, race-safe). On its
   * own connection and never inside a write transaction: creating a partition locks the parent table.
   */
  async ensurePartitions(resolution: Resolution, starts: Iterable<number>): Promise<void> {
    const needed = new Set<number>();
    for (const s of starts) needed.add(Math.floor(s / resolution.partitionMs));
    for (const index of needed) {
      const name = `${resolution.table}_p${index}`;
      if (this.partitions.has(name)) continue;
      const from = index * resolution.partitionMs;
      const to = from + resolution.partitionMs;
      try {
        await this.pool.query(`create table if not exists ${name} partition of ${resolution.table} for values from (${from}) to (${to})`);
      } catch (err) {
        // Another replica created it between our check and our create.
        if ((err as { code?: string }).code !== '42P07' && (err as { code?: string }).code !== '23505') throw err;
      }
      this.partitions.add(name);
    }
  }

  /**
   * Late points merged into their stored windows, inside the flush's transaction (rows locked):
   * values whose record the stored window already holds (same partition, offset ≤ its last offset)
   * are skipped, so a replay never counts a point twice. Returns the windows to write and publish.
   */
  async mergeLate(db: PoolClient, late: LatePoints[], windowMs: number): Promise<{ writes: WindowWrite[]; skipped: number }> {
    if (late.length === 0) return { writes: [], skipped: 0 };
    const { rows } = await db.query<StoredRow>(
      `select t.tenant, t.series_id, t.window_start, t.name, t.labels, t.unit, t.count, t.sum, t.min, t.max, t.sketch, t.revision, t.src_partition, t.last_offset
         from analytics.windows_10s t
         join unnest($1::text[], $2::text[], $3::bigint[]) as k(tenant, series_id, window_start)
           on t.tenant = k.tenant and t.series_id = k.series_id and t.window_start = k.window_start
         for update of t`,
      [late.map((l) => l.tenant), late.map((l) => l.seriesId), late.map((l) => l.windowStart)],
    );
    const stored = new Map(rows.map((r) => [key3(r.tenant, r.series_id, Number(r.window_start)), r]));
    const writes: WindowWrite[] = [];
    let skipped = 0;
    for (const l of late) {
      const row = stored.get(key3(l.tenant, l.seriesId, l.windowStart));
      const held = row && row.src_partition === l.partition && row.last_offset !== null ? Number(row.last_offset) : -1;
      const base = row ? WindowSketch.fromProto(row.sketch, row) : new WindowSketch();
      let lastOffset = held;
      let added = 0;
      for (let i = 0; i < l.values.length; i++) {
        if (l.offsets[i] <= held) {
          skipped++;
          continue;
        }
        base.accept(l.values[i]);
        if (l.offsets[i] > lastOffset) lastOffset = l.offsets[i];
        added++;
      }
      if (added === 0) continue;
      const series = { id: l.seriesId, name: row?.name ?? l.name, labels: row?.labels ?? l.labels, unit: row?.unit ?? l.unit };
      const window = summarise(series, l.windowStart, base, windowMs, row ? row.revision + 1 : 0);
      writes.push({ tenant: l.tenant, partition: l.partition, window, sketch: Buffer.from(window.sketch!, 'base64'), lastOffset });
    }
    return { writes, skipped };
  }

  /**
   * One statement: upserts the 10 s windows, advances the streams' progress and queues the 1 min
   * rollups they touch. A copy built from fewer records (lower last offset on the same partition)
   * never overwrites a fuller one, so a partial rebuild after a rebalance cannot win.
   */
  async saveWindows(db: PoolClient, writes: WindowWrite[], progress: { tenant: string; partition: number; closedUntil: number }[], rollupDelayMs: number): Promise<void> {
    const queue = new Map<string, [string, string, number]>();
    for (const w of writes) {
      const minute = w.window.windowStart - (w.window.windowStart % 60_000);
      queue.set(key3(w.tenant, w.window.seriesId, minute), [w.tenant, w.window.seriesId, minute]);
    }
    const q = [...queue.values()];
    const ws = writes.map((w) => w.window);
    await db.query(
      `with w as (
         insert into analytics.windows_10s as t (tenant, series_id, window_start, name, labels, count, sum, min, max, p50, p95, p99, sketch, unit, revision, src_partition, last_offset)
         select * from unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::jsonb[], $6::bigint[], $7::float8[], $8::float8[], $9::float8[],
                              $10::float8[], $11::float8[], $12::float8[], $13::bytea[], $14::text[], $15::int[], $16::int[], $17::bigint[])
         on conflict (tenant, series_id, window_start) do update set
           name = excluded.name, labels = excluded.labels, count = excluded.count, sum = excluded.sum, min = excluded.min, max = excluded.max,
           p50 = excluded.p50, p95 = excluded.p95, p99 = excluded.p99, sketch = excluded.sketch, unit = excluded.unit,
           revision = excluded.revision, src_partition = excluded.src_partition, last_offset = excluded.last_offset, updated_at = now()
         where t.src_partition is distinct from excluded.src_partition or excluded.last_offset >= t.last_offset
         returning 1
       ), p as (
         insert into analytics.progress as pr (tenant, partition, closed_until)
         select * from unnest($18::text[], $19::int[], $20::bigint[])
         on conflict (tenant, partition) do update set closed_until = greatest(pr.closed_until, excluded.closed_until)
         returning 1
       ), q as (
         insert into analytics.rollup_queue (tenant, series_id, window_ms, window_start, due_at)
         select k.tenant, k.series_id, 60000, k.window_start, k.window_start + 60000 + $24::bigint
           from unnest($21::text[], $22::text[], $23::bigint[]) as k(tenant, series_id, window_start)
         on conflict do nothing
         returning 1
       )
       select (select count(*) from w) as windows`,
      [
        writes.map((w) => w.tenant),
        ws.map((w) => w.seriesId),
        ws.map((w) => w.windowStart),
        ws.map((w) => w.series.name),
        ws.map((w) => JSON.stringify(w.series.labels)),
        ws.map((w) => w.count),
        ws.map((w) => w.sum),
        ws.map((w) => w.min),
        ws.map((w) => w.max),
        ws.map((w) => w.p50),
        ws.map((w) => w.p95),
        ws.map((w) => w.p99),
        writes.map((w) => w.sketch),
        ws.map((w) => w.unit ?? null),
        ws.map((w) => w.revision ?? 0),
        writes.map((w) => w.partition),
        writes.map((w) => w.lastOffset),
        progress.map((p) => p.tenant),
        progress.map((p) => p.partition),
        progress.map((p) => p.closedUntil),
        q.map((k) => k[0]),
        q.map((k) => k[1]),
        q.map((k) => k[2]),
        rollupDelayMs,
      ],
    );
  }

  transaction<T>(work: (db: PoolClient) => Promise<T>): Promise<T> {
    return inTransaction(this.pool, work);
  }

  /**
   * Computes due rollups (any replica; rows taken with SKIP LOCKED): each 1 min window is the merge
   * of its stored 10 s windows and each 1 h window of its 1 min ones — recomputed whole from the
   * finer level, so a replay or a revision never counts twice. Returns how many were written.
   */
  async rollUp(now: number, limit: number, rollupDelayMs: number): Promise<number> {
    const { rows: buckets } = await this.pool.query<{ window_ms: number; window_start: string }>(
      'select distinct window_ms, window_start from analytics.rollup_queue where due_at <= $1',
      [now],
    );
    for (const r of RESOLUTIONS.slice(1)) {
      await this.ensurePartitions(r, buckets.filter((b) => b.window_ms === r.windowMs).map((b) => Number(b.window_start)));
    }
    return inTransaction(this.pool, async (db) => {
      const { rows: due } = await db.query<{ tenant: string; series_id: string; window_ms: number; window_start: string }>(
        `delete from analytics.rollup_queue where ctid in (
           select ctid from analytics.rollup_queue where due_at <= $1 order by due_at limit $2 for update skip locked)
         returning tenant, series_id, window_ms, window_start`,
        [now, limit],
      );
      let written = 0;
      for (let i = 1; i < RESOLUTIONS.length; i++) {
        const coarse = RESOLUTIONS[i];
        const fine = RESOLUTIONS[i - 1];
        const keys = due.filter((d) => d.window_ms === coarse.windowMs);
        if (keys.length === 0) continue;
        const { rows } = await db.query<StoredRow & { bucket: string }>(
          `select f.tenant, f.series_id, k.window_start as bucket, f.name, f.labels, f.unit, f.count, f.sum, f.min, f.max, f.sketch
             from unnest($1::text[], $2::text[], $3::bigint[]) as k(tenant, series_id, window_start)
             join ${fine.table} f on f.tenant = k.tenant and f.series_id = k.series_id
              and f.window_start >= k.window_start and f.window_start < k.window_start + $4::bigint`,
          [keys.map((k) => k.tenant), keys.map((k) => k.series_id), keys.map((k) => Number(k.window_start)), coarse.windowMs],
        );
        const merged = new Map<string, { tenant: string; window: AggregateWindow; sketch: Buffer }>();
        const acc = new Map<string, { row: StoredRow & { bucket: string }; sketch: WindowSketch }>();
        for (const r of rows) {
          const k = key3(r.tenant, r.series_id, Number(r.bucket));
          const s = WindowSketch.fromProto(r.sketch, r);
          const a = acc.get(k);
          if (!a) acc.set(k, { row: r, sketch: s });
          else a.sketch.merge(s);
        }
        for (const [k, a] of acc) {
          const series = { id: a.row.series_id, name: a.row.name, labels: a.row.labels, unit: a.row.unit ?? undefined };
          const window = summarise(series, Number(a.row.bucket), a.sketch, coarse.windowMs);
          merged.set(k, { tenant: a.row.tenant, window, sketch: Buffer.from(window.sketch!, 'base64') });
        }
        const out = [...merged.values()];
        if (out.length === 0) continue;
        const ws = out.map((o) => o.window);
        await db.query(
          `insert into ${coarse.table} as t (tenant, series_id, window_start, name, labels, count, sum, min, max, p50, p95, p99, sketch, unit, revision)
           select *, 0 from unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::jsonb[], $6::bigint[], $7::float8[], $8::float8[], $9::float8[],
                                $10::float8[], $11::float8[], $12::float8[], $13::bytea[], $14::text[])
           on conflict (tenant, series_id, window_start) do update set
             count = excluded.count, sum = excluded.sum, min = excluded.min, max = excluded.max, p50 = excluded.p50, p95 = excluded.p95,
             p99 = excluded.p99, sketch = excluded.sketch, revision = t.revision + 1, updated_at = now()`,
          [
            out.map((o) => o.tenant),
            ws.map((w) => w.seriesId),
            ws.map((w) => w.windowStart),
            ws.map((w) => w.series.name),
            ws.map((w) => JSON.stringify(w.series.labels)),
            ws.map((w) => w.count),
            ws.map((w) => w.sum),
            ws.map((w) => w.min),
            ws.map((w) => w.max),
            ws.map((w) => w.p50),
            ws.map((w) => w.p95),
            ws.map((w) => w.p99),
            out.map((o) => o.sketch),
            ws.map((w) => w.unit ?? null),
          ],
        );
        written += out.length;
        const next = RESOLUTIONS[i + 1];
        if (next) {
          const up = new Map<string, [string, string, number]>();
          for (const w of out) {
            const s = w.window.windowStart - (w.window.windowStart % next.windowMs);
            up.set(key3(w.tenant, w.window.seriesId, s), [w.tenant, w.window.seriesId, s]);
          }
          const u = [...up.values()];
          await db.query(
            `insert into analytics.rollup_queue (tenant, series_id, window_ms, window_start, due_at)
             select k.tenant, k.series_id, $4::int, k.window_start, k.window_start + $4::bigint + $5::bigint
               from unnest($1::text[], $2::text[], $3::bigint[]) as k(tenant, series_id, window_start)
             on conflict do nothing`,
            [u.map((k) => k[0]), u.map((k) => k[1]), u.map((k) => k[2]), next.windowMs, rollupDelayMs],
          );
        }
      }
      return written;
    });
  }

  /**
   * Retention: partitions wholly older than the longest retention any tenant has are dropped; rows
   * of tenants keeping a resolution less long are deleted. `days(tenant)` is the tenant's setting.
   */
  async applyRetention(now: number, resolution: Resolution, defaultDays: number, overrides: Map<string, number>): Promise<{ droppedPartitions: number; deletedRows: number }> {
    const longest = Math.max(defaultDays, ...overrides.values());
    const horizon = now - longest * 86_400_000;
    const { rows: parts } = await this.pool.query<{ name: string }>(
      `select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid join pg_class p on p.oid = i.inhparent
         join pg_namespace n on n.oid = p.relnamespace where n.nspname = 'analytics' and p.relname = $1`,
      [resolution.table.split('.')[1]],
    );
    let dropped = 0;
    for (const { name } of parts) {
      const index = Number(/_p(\d+)$/.exec(name)?.[1]);
      if (!Number.isFinite(index) || (index + 1) * resolution.partitionMs > horizon) continue;
      await this.pool.query(`drop table if exists analytics.${name}`);
      this.partitions.delete(`analytics.${name}`);
      dropped++;
    }
    let deleted = 0;
    // Tenants keeping this resolution for less than the longest: delete their older rows.
    const byDays = new Map<number, string[]>();
    for (const [tenant, days] of overrides) if (days < longest) byDays.set(days, [...(byDays.get(days) ?? []), tenant]);
    for (const [days, tenants] of byDays) {
      const res = await this.pool.query(`delete from ${resolution.table} where tenant = any($1::text[]) and window_start < $2`, [tenants, now - days * 86_400_000]);
      deleted += res.rowCount ?? 0;
    }
    if (defaultDays < longest) {
      const res = await this.pool.query(`delete from ${resolution.table} where tenant <> all($1::text[]) and window_start < $2`, [[...overrides.keys()], now - defaultDays * 86_400_000]);
      deleted += res.rowCount ?? 0;
    }
    return { droppedPartitions: dropped, deletedRows: deleted };
  }

  /** Erasure: every resolution, the progress rows and the queued rollups of the tenant. */
  async deleteTenant(tenant: string): Promise<void> {
    await inTransaction(this.pool, async (db) => {
      for (const r of RESOLUTIONS) await db.query(`delete from ${r.table} where tenant = $1`, [tenant]);
      await db.query('delete from analytics.progress where tenant = $1', [tenant]);
      await db.query('delete from analytics.rollup_queue where tenant = $1', [tenant]);
    });
  }
}

/** The published + stored form of a window closed in memory. */
export function writeOf(c: ClosedWindow): WindowWrite {
  return { tenant: c.tenant, partition: c.partition, window: c.window, sketch: Buffer.from(c.window.sketch!, 'base64'), lastOffset: c.lastOffset };
}
