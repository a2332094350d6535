import { uncompress } from 'snappy';
import { WriteRequestType, type AggregateWindow, type PromWriteRequest } from '@headroom/contracts';
import { chunkBySamples, encodeWriteRequest, toTimeSeries } from './remote-write.encoding';
import { remoteWriteSinkType } from './remote-write.sink';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

function window(name: string, labels: Record<string, string>, windowStart = T0, values: Partial<AggregateWindow> = {}): AggregateWindow {
  return { series: { name, labels }, seriesId: `${name}${JSON.stringify(labels)}`, windowStart, windowMs: 10_000, count: 4, sum: 1.2, min: 0.1, max: 0.6, p50: 0.25, p95: 0.55, p99: 0.59, ...values };
}

const flat = (series: ReturnType<typeof toTimeSeries>) =>
  series.flatMap((s) => s.samples.map((x) => ({ labels: Object.fromEntries(s.labels.map((l) => [l.name, l.value])), value: x.value, timestamp: Number(x.timestamp) })));

describe('remote_write encoding', () => {
  it('writes the scrape endpoint\'s names (quantiles, _sum, _count, _min, _max) stamped at the window end, with the tenant label', () => {
    const samples = flat(toTimeSeries('acme', [window('http_seconds', { route: '/play' })], { mode: 'label', tenantLabel: 'tenant' }));
    const end = T0 + 10_000;
    expect(samples).toEqual([
      { labels: { __name__: 'http_seconds', quantile: '0.5', route: '/play', tenant: 'acme' }, value: 0.25, timestamp: end },
      { labels: { __name__: 'http_seconds', quantile: '0.95', route: '/play', tenant: 'acme' }, value: 0.55, timestamp: end },
      { labels: { __name__: 'http_seconds', quantile: '0.99', route: '/play', tenant: 'acme' }, value: 0.59, timestamp: end },
      { labels: { __name__: 'http_seconds_sum', route: '/play', tenant: 'acme' }, value: 1.2, timestamp: end },
      { labels: { __name__: 'http_seconds_count', route: '/play', tenant: 'acme' }, value: 4, timestamp: end },
      { labels: { __name__: 'http_seconds_min', route: '/play', tenant: 'acme' }, value: 0.1, timestamp: end },
      { labels: { __name__: 'http_seconds_max', route: '/play', tenant: 'acme' }, value: 0.6, timestamp: end },
    ]);
  });

  it('sorts labels by name, as the spec requires', () => {
    for (const s of toTimeSeries('acme', [window('m', { zone: 'z', app: 'a', quantile: 'x' })], { mode: 'label', tenantLabel: 'tenant' })) {
      const names = s.labels.map((l) => l.name);
      expect(names).toEqual([...names].sort());
    }
  });

  it("keeps a series' own tenant and quantile labels as exported_*: the authenticated tenant and the summary's quantile win", () => {
    const series = toTimeSeries('acme', [window('m', { tenant: 'evil', quantile: 'q' })], { mode: 'label', tenantLabel: 'tenant' });
    const count = flat(series).find((s) => s.labels['__name__'] === 'm_count')!;
    expect(count.labels).toEqual({ __name__: 'm_count', exported_quantile: 'q', exported_tenant: 'evil', tenant: 'acme' });
  });

  it('adds no tenant label in org-id mode (the request header carries the tenant)', () => {
    const series = toTimeSeries('acme', [window('m', { tenant: 'own' })], { mode: 'org-id', tenantLabel: 'tenant' });
    expect(flat(series).find((s) => s.labels['__name__'] === 'm_sum')!.labels).toEqual({ __name__: 'm_sum', tenant: 'own' });
  });

  it('puts a series\' windows in one TimeSeries in time order, whatever order they came in', () => {
    const series = toTimeSeries('acme', [window('m', {}, T0 + 20_000, { count: 3 }), window('m', {}, T0, { count: 1 }), window('m', {}, T0 + 10_000, { count: 2 })], { mode: 'label', tenantLabel: 'tenant' });
    const count = series.find((s) => s.labels.some((l) => l.value === 'm_count'))!;
    expect(count.samples.map((s) => [Number(s.timestamp) - T0, s.value])).toEqual([[10_000, 1], [20_000, 2], [30_000, 3]]);
    expect(series).toHaveLength(7);
  });

  it('round-trips through snappy and the protobuf WriteRequest the receiver decodes', async () => {
    const series = toTimeSeries('acme', [window('m', { a: '1' })], { mode: 'label', tenantLabel: 'tenant' });
    const body = await encodeWriteRequest(series);
    const decoded = WriteRequestType.toObject(WriteRequestType.decode((await uncompress(body)) as Buffer), { longs: Number }) as PromWriteRequest;
    expect(decoded.timeseries).toEqual(series.map((s) => ({ labels: s.labels, samples: s.samples.map((x) => ({ value: x.value, timestamp: x.timestamp })) })));
  });

  it('splits requests at maxSamplesPerRequest without reordering a series', () => {
    const series = toTimeSeries('acme', [0, 1, 2].map((i) => window('m', {}, T0 + i * 10_000)), { mode: 'label', tenantLabel: 'tenant' });
    const chunks = chunkBySamples(series, 5);
    expect(chunks.map((c) => c.reduce((n, s) => n + s.samples.length, 0))).toEqual([5, 5, 5, 5, 1]);
    const merged = new Map<string, number[]>();
    for (const s of chunks.flat()) merged.set(JSON.stringify(s.labels), [...(merged.get(JSON.stringify(s.labels)) ?? []), ...s.samples.map((x) => Number(x.timestamp))]);
    for (const ts of merged.values()) expect(ts).toEqual([T0 + 10_000, T0 + 20_000, T0 + 30_000]);
  });
});

describe('remote_write config', () => {
  const resolve = (env: Record<string, string>) => ({ ...remoteWriteSinkType.defaultConfig(), ...remoteWriteSinkType.fromEnv(env) });

  it('is off without a URL, and reads mode, timeout, headers and token from the environment', () => {
    expect(remoteWriteSinkType.fromEnv({})).toBeUndefined();
    const config = resolve({ EXPORT_REMOTE_WRITE_URL: 'http://vm:8428/api/v1/write', EXPORT_REMOTE_WRITE_MODE: 'org-id', EXPORT_REMOTE_WRITE_TIMEOUT_MS: '2500', EXPORT_REMOTE_WRITE_HEADERS: '{"X-Gateway":"k"}', EXPORT_REMOTE_WRITE_BEARER_TOKEN: 's3cret' });
    expect(config).toMatchObject({ url: 'http://vm:8428/api/v1/write', mode: 'org-id', timeoutMs: 2500, headers: { 'X-Gateway': 'k' }, bearerToken: 's3cret', maxSamplesPerRequest: 10_000 });
    expect(remoteWriteSinkType.validate(config)).toEqual([]);
  });

  it('lists every problem with its path', () => {
    const config = resolve({ EXPORT_REMOTE_WRITE_URL: 'ftp://x', EXPORT_REMOTE_WRITE_MODE: 'both', EXPORT_REMOTE_WRITE_TIMEOUT_MS: 'soon', EXPORT_REMOTE_WRITE_HEADERS: '{"bad name":"v"}', EXPORT_REMOTE_WRITE_TENANT_LABEL: '__t' });
    expect(remoteWriteSinkType.validate(config).map((p) => p.path)).toEqual(['url', 'mode', 'tenantLabel', 'timeoutMs', 'headers.bad name']);
  });
});
