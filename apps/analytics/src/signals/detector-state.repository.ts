import type { Pool } from 'pg';
import type { AggregateWindow } from '@headroom/contracts';
import { migrateSchema } from '@headroom/database';
import type { StoredUnit, UnitSnapshot } from './stream-detectors';

const MIGRATION = `
create schema if not exists analytics;
create table if not exists analytics.detector_state (
  tenant text not null,
  partition int not null,
  detector text not null,
  series_id text not null,
  state jsonb not null,
  updated_at timestamptz not null default now(),
  primary key (tenant, detector, series_id)
);
create index if not exists detector_state_stream on analytics.detector_state (tenant, partition);
`;

/** The row that marks a stream's checkpoint: every window up to `fed_until` is in the units saved with it. */
const STREAM_MARK = '@stream';

/** A stored 10 s window as the detectors need it (the figures, no sketch). */
interface WindowRow {
  series_id: string;
  window_start: string;
  name: string;
  labels: Record<string, string>;
  unit: string | null;
  count: string;
  sum: number;
  min: number;
  max: number;
  p50: number;
  p95: number;
  p99: number;
}

/**
 * Detector snapshots in analytics' schema, one row per tenant, detector setting and series, plus one
 * checkpoint mark per tenant and partition (the stream). Saved in one transaction per checkpoint, so
 * the mark never runs ahead of the units it vouches for.
 */
export class DetectorStateRepository {
  constructor(
    private readonly pool: Pool,
    private readonly windowsTable = 'analytics.windows_10s',
  ) {}

  async migrate(): Promise<void> {
    await migrateSchema(this.pool, 'analytics', MIGRATION);
  }

  /** Upserts the units and, per partition given, the checkpoint mark. */
  async save(tenant: string, units: StoredUnit[], marks: Map<number, number>): Promise<void> {
    if (units.length === 0 && marks.size === 0) return;
    const rows: [number, string, string, string][] = units.map((u) => [u.partition, u.settingId, u.seriesId, JSON.stringify(u.snapshot)]);
    for (const [partition, until] of marks) rows.push([partition, STREAM_MARK, String(partition), JSON.stringify({ fedUntil: until })]);
    // One statement per ~500 rows: a forest's snapshot alone is a few hundred KB.
    const client = await this.pool.connect();
    try {
      await client.query('begin');
      for (let i = 0; i < rows.length; i += 500) {
        const part = rows.slice(i, i + 500);
        await client.query(
          `insert into analytics.detector_state (tenant, partition, detector, series_id, state)
           select $1, p, d, s, st::jsonb from unnest($2::int[], $3::text[], $4::text[], $5::text[]) as x(p, d, s, st)
           on conflict (tenant, detector, series_id) do update set partition = excluded.partition, state = excluded.state, updated_at = now()`,
          [tenant, part.map((r) => r[0]), part.map((r) => r[1]), part.map((r) => r[2]), part.map((r) => r[3])],
        );
      }
      await client.query('commit');
    } catch (err) {
      await client.query('rollback').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  /** A stream's saved units and its checkpoint mark (undefined: never checkpointed). */
  async load(tenant: string, partition: number): Promise<{ units: StoredUnit[]; fedUntil: number | undefined }> {
    const { rows } = await this.pool.query<{ detector: string; series_id: string; state: UnitSnapshot | { fedUntil: number } }>(
      'select detector, series_id, state from analytics.detector_state where tenant = $1 and partition = $2',
      [tenant, partition],
    );
    let fedUntil: number | undefined;
    const units: StoredUnit[] = [];
    for (const r of rows) {
      if (r.detector === STREAM_MARK) fedUntil = r.state.fedUntil;
      else units.push({ settingId: r.detector, seriesId: r.series_id, partition, snapshot: r.state as UnitSnapshot });
    }
    return { units, fedUntil };
  }

  /** The stream's stored windows after `after`, oldest first (at most `limit`): what a restore replays. */
  async windowsAfter(tenant: string, partition: number, after: number, limit: number, windowMs: number): Promise<AggregateWindow[]> {
    const { rows } = await this.pool.query<WindowRow>(
      `select series_id, window_start, name, labels, unit, count, sum, min, max, p50, p95, p99 from ${this.windowsTable}
        where tenant = $1 and src_partition = $2 and window_start > $3 order by window_start, series_id limit $4`,
      [tenant, partition, after, limit],
    );
    return rows.map((r) => ({
      series: { name: r.name, labels: r.labels },
      seriesId: r.series_id,
      windowStart: Number(r.window_start),
      windowMs,
      count: Number(r.count),
      sum: r.sum,
      min: r.min,
      max: r.max,
      p50: r.p50,
      p95: r.p95,
      p99: r.p99,
      ...(r.unit ? { unit: r.unit } : {}),
    }));
  }

  async deleteTenant(tenant: string): Promise<void> {
    await this.pool.query('delete from analytics.detector_state where tenant = $1', [tenant]);
  }

  async count(tenant: string): Promise<number> {
    const { rows } = await this.pool.query<{ n: string }>('select count(*) as n from analytics.detector_state where tenant = $1', [tenant]);
    return Number(rows[0].n);
  }
}
