import { RESOLUTIONS } from '../windows/windows.repository';
import { QueryError } from './query-error';
import { tiles, type QueryRepository, type StoredSeries, type StoredWindow, type Tile } from './query.repository';
import { parseStat, QueryService, type QueryLimits } from './query.service';

const [R10S, R1M, R1H] = RESOLUTIONS;
const T0 = 1_700_000_000_000 - (1_700_000_000_000 % 3600_000);
const LIMITS: QueryLimits = { maxSeries: 3, maxPointsPerSeries: 100, maxWindows: 10_000, lookbackMs: 300_000, rollupLagMs: 30_000 };

/** analytics' windows in memory: what QueryRepository would read from PostgreSQL for one tenant. */
function fakeRepository(series: StoredSeries[], windows: (StoredWindow & { res: number })[]) {
  const reads: Tile[][] = [];
  const repo = {
    series: async (_tenant: string, _from: number, _to: number, names?: readonly string[]) => series.filter((s) => !names || names.includes(s.name)),
    windows: async (_tenant: string, ids: readonly string[], parts: readonly Tile[]) => {
      reads.push([...parts]);
      return windows.filter((w) => ids.includes(w.seriesId) && parts.some((p) => p.resolution.windowMs === w.res && w.start >= p.from && w.start < p.to));
    },
  };
  return { repo: repo as unknown as QueryRepository, reads };
}

const win = (seriesId: string, res: number, start: number, v: Partial<StoredWindow> = {}) => ({
  seriesId,
  res,
  start,
  ms: res,
  count: 2,
  sum: 10,
  min: 4,
  max: 6,
  p50: 5,
  p95: 5.9,
  p99: 6,
  ...v,
});

describe('tiles', () => {
  it('reads coarse windows only where their rollup is surely written, finer ones after, without gap', () => {
    const now = T0 + 2 * 3600_000 + 5 * 60_000 + 40_000; // 02:05:40
    const parts = tiles(T0, now, R1H, now, 30_000);
    expect(parts.map((t) => [t.resolution.windowMs, t.from - T0, t.to - T0])).toEqual([
      [R1H.windowMs, 0, 2 * 3600_000],
      [R1M.windowMs, 2 * 3600_000, 2 * 3600_000 + 5 * 60_000],
      [R10S.windowMs, 2 * 3600_000 + 5 * 60_000, now - T0],
    ]);
  });
});

describe('QueryService', () => {
  const api = { id: 'a', name: 'api_latency_ms', labels: { route: '/play', quantile: 'x' } };
  const other = { id: 'b', name: 'queue_depth', labels: {} };
  const now = T0 + 3 * 3600_000;

  it('merges per step and names the limit it hits', async () => {
    // As stored: six 10 s windows and, rolled up from them, their 1 min window.
    const windows = [...[0, 1, 2, 3, 4, 5].map((i) => win('a', R10S.windowMs, T0 + i * 10_000, { max: i })), win('a', R1M.windowMs, T0, { count: 12, sum: 60, max: 5 })];
    const service = new QueryService(fakeRepository([api, other], windows).repo, LIMITS, () => now);
    const answer = await service.range('t', { query: 'api_latency_ms', stats: ['count', 'max', 'mean'].map(parseStat), start: T0, end: T0 + 60_000, stepMs: 60_000 });
    expect(answer.resolution).toBe('1m');
    expect(answer.series[0].points).toEqual([{ t: T0, count: 12, max: 5, mean: 5 }]);
    const fine = await service.range('t', { query: 'api_latency_ms', stats: ['count', 'max'].map(parseStat), start: T0, end: T0 + 60_000, stepMs: 30_000 });
    expect(fine.resolution).toBe('10s');
    expect(fine.series[0].points).toEqual([
      { t: T0, count: 6, max: 2 },
      { t: T0 + 30_000, count: 6, max: 5 },
    ]);

    const refused = await service.range('t', { query: 'api_latency_ms', stats: [], start: T0, end: T0 + 3600_000, stepMs: 10_000 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(QueryError);
    expect(refused).toMatchObject({ status: 422, field: 'step' });
    expect(() => parseStat('p95x')).toThrow(expect.objectContaining({ status: 400, field: 'stat' }));
  });

  it('refuses a query over the series limit with 422 on the query parameter', async () => {
    const many = Array.from({ length: 4 }, (_, i) => ({ id: `s${i}`, name: 'm', labels: { i: String(i) } }));
    const service = new QueryService(fakeRepository(many, []).repo, LIMITS, () => now);
    await expect(service.range('t', { query: 'm', stats: [], start: T0, end: T0 + 60_000, stepMs: 60_000 })).rejects.toMatchObject({ status: 422, field: 'query' });
    await expect(service.range('t', { query: 'm{i=~"[01]"}', stats: [], start: T0, end: T0 + 60_000, stepMs: 60_000 })).resolves.toMatchObject({ series: [{}, {}] });
  });

  it('exposes the exporters’ names: {quantile=}, _count…, a series label quantile as exported_quantile', async () => {
    const t = T0 + 60_000;
    const service = new QueryService(fakeRepository([api], [win('a', R10S.windowMs, t - 10_000)]).repo, LIMITS, () => now);
    const p95 = await service.evaluate('t', 'api_latency_ms{quantile="0.95"}', [t], 0);
    expect(p95).toEqual({ resultType: 'vector', result: [{ metric: { __name__: 'api_latency_ms', route: '/play', exported_quantile: 'x', quantile: '0.95' }, value: [t, 5.9] }] });
    const count = await service.evaluate('t', 'api_latency_ms_count', [t], 0);
    expect(count.result).toEqual([{ metric: { __name__: 'api_latency_ms_count', route: '/play', exported_quantile: 'x' }, value: [t, 2] }]);
    const series = await service.promSeries('t', ['{__name__=~"api_latency_ms_(min|max)"}'], T0, now);
    expect(series.map((s) => s['__name__']).sort()).toEqual(['api_latency_ms_max', 'api_latency_ms_min']);
  });

  it('counts points over the stored name, and windows over an exposition name', async () => {
    const windows = [...[0, 1, 2, 3, 4, 5].map((i) => win('a', R10S.windowMs, T0 + i * 10_000)), win('a', R1M.windowMs, T0, { count: 12 })];
    const service = new QueryService(fakeRepository([api], windows).repo, LIMITS, () => now);
    const points = await service.evaluate('t', 'count_over_time(api_latency_ms[1m])', [T0 + 60_000], 0);
    expect(points.result).toEqual([{ metric: { route: '/play', quantile: 'x' }, value: [T0 + 60_000, 12] }]);
    const samples = await service.evaluate('t', 'count_over_time(api_latency_ms_max[1m])', [T0 + 60_000], 0);
    expect(samples.result).toEqual([{ metric: { route: '/play', exported_quantile: 'x' }, value: [T0 + 60_000, 6] }]);
  });

  it('refuses more steps than the points limit, as Prometheus words it', async () => {
    const service = new QueryService(fakeRepository([api], []).repo, LIMITS, () => now);
    const times = Array.from({ length: 101 }, (_, i) => T0 + i * 10_000);
    await expect(service.evaluate('t', 'api_latency_ms_max', times, 10_000)).rejects.toMatchObject({ status: 400, field: 'step', reason: expect.stringMatching(/exceeded maximum resolution of 100 points/) });
  });
});
