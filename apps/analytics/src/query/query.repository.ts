import type { Pool } from 'pg';
import { RESOLUTIONS, type Resolution } from '../windows/windows.repository';

/** A series as stored: analytics' id, the metric name and its labels. */
export interface StoredSeries {
  id: string;
  name: string;
  labels: Record<string, string>;
}

/** One stored window, at whichever resolution it was read from. */
export interface StoredWindow {
  seriesId: string;
  start: number;
  ms: number;
  count: number;
  sum: number;
  min: number;
  max: number;
  p50: number;
  p95: number;
  p99: number;
  sketch?: Buffer;
}

/** A stretch of `window_start` values, [from, to), read from one resolution's table. */
export interface Tile {
  resolution: Resolution;
  from: number;
  to: number;
}

/**
 * Splits [from, to) into stretches read from the coarsest resolution whose rollups are complete,
 * then from finer ones: a 1 min or 1 h window is written a while after it ends (ROLLUP_DELAY_MS,
 * then the next rollup tick), and until then the finer windows hold its points. Every boundary is a
 * multiple of the coarser resolution, so the tiles cover the range without gap or overlap and a
 * merge over them counts each point once. `from` must be a multiple of `coarsest.windowMs`.
 */
export function tiles(from: number, to: number, coarsest: Resolution, now: number, rollupLagMs: number): Tile[] {
  const out: Tile[] = [];
  let cur = from;
  for (let i = RESOLUTIONS.indexOf(coarsest); i >= 0 && cur < to; i--) {
    const r = RESOLUTIONS[i];
    // 10 s windows are the source: nothing to wait for.
    const complete = i === 0 ? to : Math.floor((now - rollupLagMs) / r.windowMs) * r.windowMs;
    const end = Math.min(to, Math.max(cur, complete));
    if (end > cur) out.push({ resolution: r, from: cur, to: end });
    cur = end;
  }
  return out;
}

/** One series' windows of one tile, as columns (PostgreSQL builds the JSON: node-pg's per-row parsing was most of a query's time). */
interface SeriesColumns {
  id: string;
  t: number[];
  c: number[];
  s: number[];
  mn: number[];
  mx: number[];
  p50: number[];
  p95: number[];
  p99: number[];
  sk?: string[];
}

/** Read-only access to analytics' windows, always for one tenant (every statement filters on it). */
export class QueryRepository {
  constructor(private readonly pool: Pool) {}

  /**
   * The tenant's series with at least one window starting in [from, to), optionally only those
   * named in `names`. Read from the 1 h windows and, where those are not rolled up yet, finer ones.
   */
  async series(tenant: string, from: number, to: number, names: readonly string[] | undefined, now: number, rollupLagMs: number): Promise<StoredSeries[]> {
    const hour = RESOLUTIONS[RESOLUTIONS.length - 1];
    const start = Math.floor(from / hour.windowMs) * hour.windowMs;
    const found = new Map<string, StoredSeries>();
    for (const t of tiles(start, to, hour, now, rollupLagMs)) {
      const params: unknown[] = [tenant, Math.max(t.from, from - (from % t.resolution.windowMs)), t.to];
      if (names) params.push(names);
      const { rows } = await this.pool.query<{ series_id: string; name: string; labels: Record<string, string> }>(
        `select distinct on (series_id) series_id, name, labels from ${t.resolution.table}
          where tenant = $1 and window_start >= $2 and window_start < $3${names ? ' and name = any($4::text[])' : ''}`,
        params,
      );
      for (const r of rows) if (!found.has(r.series_id)) found.set(r.series_id, { id: r.series_id, name: r.name, labels: r.labels });
    }
    return [...found.values()];
  }

  /** Windows of `seriesIds` starting in [from, to), per tile, ordered by series then start. */
  async windows(tenant: string, seriesIds: readonly string[], parts: readonly Tile[], withSketch: boolean): Promise<StoredWindow[]> {
    const out: StoredWindow[] = [];
    if (seriesIds.length === 0) return out;
    for (const t of parts) {
      const { rows } = await this.pool.query<{ j: string }>(
        `select json_build_object('id', series_id, 't', array_agg(window_start order by window_start), 'c', array_agg(count order by window_start),
                  's', array_agg(sum order by window_start), 'mn', array_agg(min order by window_start), 'mx', array_agg(max order by window_start),
                  'p50', array_agg(p50 order by window_start), 'p95', array_agg(p95 order by window_start), 'p99', array_agg(p99 order by window_start)
                  ${withSketch ? ", 'sk', array_agg(translate(encode(sketch, 'base64'), E'\\n', '') order by window_start)" : ''})::text as j
           from ${t.resolution.table}
          where tenant = $1 and series_id = any($2::text[]) and window_start >= $3 and window_start < $4
          group by series_id`,
        [tenant, seriesIds, t.from, t.to],
      );
      for (const { j } of rows) {
        const c = JSON.parse(j) as SeriesColumns;
        for (let i = 0; i < c.t.length; i++)
          out.push({
            seriesId: c.id,
            start: c.t[i],
            ms: t.resolution.windowMs,
            count: c.c[i],
            sum: c.s[i],
            min: c.mn[i],
            max: c.mx[i],
            p50: c.p50[i],
            p95: c.p95[i],
            p99: c.p99[i],
            ...(c.sk ? { sketch: Buffer.from(c.sk[i], 'base64') } : {}),
          });
      }
    }
    out.sort((a, b) => (a.seriesId < b.seriesId ? -1 : a.seriesId > b.seriesId ? 1 : a.start - b.start));
    return out;
  }
}
