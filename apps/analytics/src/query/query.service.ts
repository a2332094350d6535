import { Inject, Injectable } from '@nestjs/common';
import { RESOLUTIONS, type Resolution } from '../windows/windows.repository';
import { bucketise, bySeries, instantOfSamples, Merged, overTimeOfPoints, overTimeOfSamples, type Samples } from './evaluator';
import { storedNamesFor, viewsOf, type SeriesView } from './exposition-names';
import { matchesLabels, parseQuery, parseSelector, PromQLError, type Expr, type Selector } from './promql';
import { badParam, overLimit } from './query-error';
import { QueryRepository, tiles, type StoredSeries } from './query.repository';

export interface QueryLimits {
  maxSeries: number;
  maxPointsPerSeries: number;
  /** Windows one query may read from PostgreSQL, all series together. */
  maxWindows: number;
  /** How far back an instant selector looks for a sample (Prometheus's lookback delta). */
  lookbackMs: number;
  /** How long after a 1 min / 1 h window ends its rollup is surely written (see `tiles`). */
  rollupLagMs: number;
}
export const QUERY_LIMITS = Symbol('QUERY_LIMITS');
export const QUERY_CLOCK = Symbol('QUERY_CLOCK');

/** A statistic of `/v1/query/range`: its name in the answer and how to compute it. */
export interface Stat {
  key: string;
  quantile?: number;
}
const PLAIN_STATS = ['count', 'sum', 'min', 'max', 'mean'] as const;
export const DEFAULT_STATS = ['count', 'sum', 'min', 'max', 'mean', 'p50', 'p95', 'p99'];

export function parseStat(text: string): Stat {
  if ((PLAIN_STATS as readonly string[]).includes(text)) return { key: text };
  const p = /^p(\d{1,2}(?:\.\d+)?)$/.exec(text);
  if (p) return { key: text, quantile: Number(p[1]) / 100 };
  const q = /^q(0(?:\.\d+)?|1(?:\.0+)?)$/.exec(text);
  if (q) return { key: text, quantile: Number(q[1]) };
  throw badParam('stat', `unknown statistic ${JSON.stringify(text)}: use count, sum, min, max, mean, pNN (p95, p99.9) or qφ (q0.999)`);
}

export interface RangeRequest {
  query: string;
  stats: Stat[];
  start: number;
  end: number;
  stepMs: number;
}

export interface RangeAnswer {
  resolution: string;
  stepMs: number;
  start: number;
  end: number;
  series: { id: string; name: string; labels: Record<string, string>; points: Record<string, number>[] }[];
}

export type PromResult =
  | { resultType: 'matrix'; result: { metric: Record<string, string>; values: [number, number][] }[] }
  | { resultType: 'vector'; result: { metric: Record<string, string>; value: [number, number] }[] };

const label = (r: Resolution) => (r.windowMs >= 3600_000 ? `${r.windowMs / 3600_000}h` : r.windowMs >= 60_000 ? `${r.windowMs / 60_000}m` : `${r.windowMs / 1000}s`);
const rawLabels = (s: StoredSeries) => ({ __name__: s.name, ...s.labels });

/**
 * Queries over one tenant's stored windows. The tenant is always the caller's (from its API key),
 * and every read filters on it; a query names series only by metric name and labels.
 */
@Injectable()
export class QueryService {
  constructor(
    @Inject(QueryRepository) private readonly repo: QueryRepository,
    @Inject(QUERY_LIMITS) private readonly limits: QueryLimits,
    @Inject(QUERY_CLOCK) private readonly now: () => number,
  ) {}

  /** Series whose stored labels (and `__name__`) match, with a window starting in [start, end). */
  async series(tenant: string, match: string, start: number, end: number, field = 'match'): Promise<StoredSeries[]> {
    const selector = this.selector(match, field);
    const found = await this.storedMatching(tenant, selector, start, end);
    if (found.length > this.limits.maxSeries) throw overLimit(field, this.seriesLimitReason(found.length));
    return found.sort((a, b) => (a.name === b.name ? JSON.stringify(a.labels).localeCompare(JSON.stringify(b.labels)) : a.name < b.name ? -1 : 1));
  }

  /**
   * Every matching series' windows merged per step (aligned to multiples of the step since the
   * epoch), read at the coarsest resolution dividing the step; quantiles from the merged sketches.
   */
  async range(tenant: string, req: RangeRequest): Promise<RangeAnswer> {
    if (req.stepMs % RESOLUTIONS[0].windowMs !== 0) throw badParam('step', `must be a multiple of ${label(RESOLUTIONS[0])} (the finest stored resolution)`);
    const start = req.start - (req.start % req.stepMs);
    if (req.end <= start) throw badParam('end', 'must be after start');
    const points = Math.ceil((req.end - start) / req.stepMs);
    if (points > this.limits.maxPointsPerSeries)
      throw overLimit('step', `${points} points per series exceeds the limit of ${this.limits.maxPointsPerSeries}: use a larger step or a shorter range`);
    const res = [...RESOLUTIONS].reverse().find((r) => req.stepMs % r.windowMs === 0)!;
    const found = await this.series(tenant, req.query, start, req.end, 'query');
    this.checkWindows(found.length, start, req.end, res, 'step');
    const parts = tiles(start, req.end, res, this.now(), this.limits.rollupLagMs);
    const perMerge = parts.every((t) => t.resolution === res) ? req.stepMs / res.windowMs : Infinity;
    const withSketch = req.stats.some((s) => s.quantile !== undefined && Merged.needsSketch(s.quantile, perMerge));
    const windows = bySeries(await this.repo.windows(tenant, found.map((s) => s.id), parts, withSketch));
    return {
      resolution: label(res),
      stepMs: req.stepMs,
      start,
      end: req.end,
      series: found.map((s) => ({
        id: s.id,
        name: s.name,
        labels: s.labels,
        points: bucketise(windows.get(s.id) ?? [], start, req.stepMs).map(({ start: t, merged }) => {
          const point: Record<string, number> = { t };
          for (const stat of req.stats) point[stat.key] = stat.quantile !== undefined ? merged.quantile(stat.quantile) : stat.key === 'mean' ? merged.mean : merged[stat.key as 'count' | 'sum' | 'min' | 'max'];
          return point;
        }),
      })),
    };
  }

  /**
   * A PromQL-subset expression at `times` (one time: an instant query). `stepMs` is 0 for an
   * instant query. See docs/query-api.md for what each form reads.
   */
  async evaluate(tenant: string, query: string, times: readonly number[], stepMs: number): Promise<PromResult> {
    if (times.length > this.limits.maxPointsPerSeries)
      throw badParam('step', `exceeded maximum resolution of ${this.limits.maxPointsPerSeries} points per timeseries. Try decreasing the query resolution (?step=XX)`);
    let expr: Expr;
    try {
      expr = parseQuery(query);
    } catch (e) {
      if (e instanceof PromQLError) throw badParam('query', e.message);
      throw e;
    }
    const instant = stepMs === 0;
    const first = times[0];
    const last = times[times.length - 1];
    const out: { metric: Record<string, string>; values: [number, number][] }[] = [];

    if (expr.kind === 'over_time' && expr.selector.metric !== undefined && !expr.selector.matchers.some((m) => m.name === 'quantile')) {
      const stored = (await this.storedMatching(tenant, expr.selector, first - expr.rangeMs, last)).filter((s) => s.name === expr.selector.metric);
      if (stored.length > 0) {
        // Over the points themselves: windows at the coarsest resolution that tiles every range exactly.
        if (stored.length > this.limits.maxSeries) throw overLimit('query', this.seriesLimitReason(stored.length));
        const res =
          [...RESOLUTIONS].reverse().find((r) => expr.rangeMs % r.windowMs === 0 && stepMs % r.windowMs === 0 && first % r.windowMs === 0) ?? RESOLUTIONS[0];
        const from = Math.floor((first - expr.rangeMs) / res.windowMs) * res.windowMs;
        this.checkWindows(stored.length, from, last, res, 'query');
        const parts = tiles(from, last, res, this.now(), this.limits.rollupLagMs);
        const perMerge = parts.every((t) => t.resolution === res) ? expr.rangeMs / res.windowMs : Infinity;
        const withSketch = expr.fn === 'quantile_over_time' && Merged.needsSketch(expr.quantile!, perMerge);
        const windows = bySeries(await this.repo.windows(tenant, stored.map((s) => s.id), parts, withSketch));
        for (const s of stored) {
          const values = overTimeOfPoints(windows.get(s.id) ?? [], times, expr.rangeMs, expr.fn, expr.quantile);
          if (values.length) out.push({ metric: { ...s.labels }, values });
        }
        return this.shape(out, instant);
      }
    }

    // Over the exposition's samples: one per window, at the coarsest resolution not coarser than the step.
    const span = expr.kind === 'over_time' ? expr.rangeMs : this.limits.lookbackMs;
    const res = [...RESOLUTIONS].reverse().find((r) => r.windowMs <= Math.max(stepMs, RESOLUTIONS[0].windowMs) && (expr.kind === 'selector' || r.windowMs <= expr.rangeMs)) ?? RESOLUTIONS[0];
    const lookback = Math.max(span, res.windowMs);
    const from = Math.floor((first - lookback - res.windowMs) / res.windowMs) * res.windowMs;
    const views = await this.viewsMatching(tenant, expr.selector, from, last);
    if (views.length > this.limits.maxSeries) throw overLimit('query', this.seriesLimitReason(views.length));
    const storedIds = [...new Set(views.map((v) => v.series.id))];
    this.checkWindows(storedIds.length, from, last, res, 'query');
    const windows = bySeries(await this.repo.windows(tenant, storedIds, tiles(from, last, res, this.now(), this.limits.rollupLagMs), false));
    for (const v of views) {
      const samples: Samples = (windows.get(v.series.id) ?? []).map((w) => [w.start + w.ms, w[v.field]] as const);
      const values = expr.kind === 'over_time' ? overTimeOfSamples(samples, times, expr.rangeMs, expr.fn, expr.quantile) : instantOfSamples(samples, times, lookback);
      if (!values.length) continue;
      const metric = { ...v.metric };
      // As Prometheus: a function's result has no metric name.
      if (expr.kind === 'over_time') delete metric['__name__'];
      out.push({ metric, values });
    }
    return this.shape(out, instant);
  }

  /** Prometheus `/series`: the label sets of every series any of `matches` selects. */
  async promSeries(tenant: string, matches: readonly string[], start: number, end: number): Promise<Record<string, string>[]> {
    if (matches.length === 0) throw badParam('match[]', 'no match[] parameter provided');
    const seen = new Map<string, Record<string, string>>();
    for (const m of matches) {
      for (const v of await this.viewsMatching(tenant, this.selector(m, 'match[]'), start, end)) seen.set(`${v.series.id}/${v.field}`, v.metric);
      if (seen.size > this.limits.maxSeries) throw overLimit('match[]', this.seriesLimitReason(seen.size));
    }
    return [...seen.values()];
  }

  /** Label names (`name` undefined) or one label's values, over the series `matches` select (all when empty). */
  async promLabels(tenant: string, matches: readonly string[], start: number, end: number, name?: string): Promise<string[]> {
    const views: SeriesView[] = [];
    if (matches.length === 0) {
      for (const s of await this.repo.series(tenant, start, end, undefined, this.now(), this.limits.rollupLagMs)) views.push(...viewsOf(s));
    } else {
      for (const m of matches) views.push(...(await this.viewsMatching(tenant, this.selector(m, 'match[]'), start, end)));
    }
    const out = new Set<string>();
    for (const v of views) {
      if (name === undefined) Object.keys(v.metric).forEach((k) => out.add(k));
      else if (v.metric[name] !== undefined && v.metric[name] !== '') out.add(v.metric[name]);
    }
    return [...out].sort();
  }

  private selector(text: string, field: string): Selector {
    try {
      return parseSelector(text);
    } catch (e) {
      if (e instanceof PromQLError) throw badParam(field, e.message);
      throw e;
    }
  }

  private async storedMatching(tenant: string, selector: Selector, start: number, end: number): Promise<StoredSeries[]> {
    const all = await this.repo.series(tenant, start, end, selector.metric !== undefined ? [selector.metric] : undefined, this.now(), this.limits.rollupLagMs);
    return all.filter((s) => matchesLabels(selector.matchers, rawLabels(s)));
  }

  private async viewsMatching(tenant: string, selector: Selector, start: number, end: number): Promise<SeriesView[]> {
    const names = selector.metric !== undefined ? storedNamesFor(selector.metric) : undefined;
    const stored = await this.repo.series(tenant, start, end, names, this.now(), this.limits.rollupLagMs);
    return stored.flatMap(viewsOf).filter((v) => matchesLabels(selector.matchers, v.metric));
  }

  private checkWindows(series: number, from: number, to: number, res: Resolution, field: string): void {
    const windows = series * Math.ceil((to - from) / res.windowMs);
    if (windows > this.limits.maxWindows)
      throw overLimit(field, `the query would read up to ${windows} windows at ${label(res)} (limit ${this.limits.maxWindows}): shorten the range, select fewer series, or use a step (and range) that is a multiple of 1m or 1h`);
  }

  private seriesLimitReason(n: number): string {
    return `the query selects ${n} series, over the limit of ${this.limits.maxSeries}: add label matchers`;
  }

  private shape(out: { metric: Record<string, string>; values: [number, number][] }[], instant: boolean): PromResult {
    if (!instant) return { resultType: 'matrix', result: out };
    return { resultType: 'vector', result: out.map((s) => ({ metric: s.metric, value: s.values[0] })) };
  }
}
