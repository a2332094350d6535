import { Registry, Summary } from 'prom-client';
import type { AggregateWindow } from '@headroom/contracts';
import { renderExposition } from './exposition';
import { parseExposition } from './exposition.parser';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

function window(name: string, labels: Record<string, string>, values: Partial<AggregateWindow> = {}): AggregateWindow {
  return {
    series: { name, labels },
    seriesId: `${name}${JSON.stringify(labels)}`,
    windowStart: T0,
    windowMs: 10_000,
    count: 4,
    sum: 1.2,
    min: 0.1,
    max: 0.6,
    p50: 0.25,
    p95: 0.55,
    p99: 0.59,
    ...values,
  };
}

describe('renderExposition', () => {
  it('writes a summary (quantiles, _sum, _count) and _min/_max gauges per series, no timestamps', async () => {
    const out = await renderExposition([
      window('http_request_duration_seconds', { route: '/play', method: 'GET' }, { unit: 's' }),
      window('http_request_duration_seconds', { route: '/search', method: 'GET' }, { count: 2, sum: 3, p50: 1, p95: 2, p99: 2.5, min: 0.5, max: 2.5 }),
    ]);
    const parsed = parseExposition(out.text);

    expect(out.contentType).toBe(Registry.PROMETHEUS_CONTENT_TYPE);
    expect(out.series).toBe(2);
    expect(Object.fromEntries(parsed.types)).toEqual({
      http_request_duration_seconds: 'summary',
      http_request_duration_seconds_min: 'gauge',
      http_request_duration_seconds_max: 'gauge',
    });
    const play = parsed.samples.filter((s) => s.labels['route'] === '/play');
    expect(play).toEqual([
      { name: 'http_request_duration_seconds', labels: { quantile: '0.5', route: '/play', method: 'GET' }, value: 0.25 },
      { name: 'http_request_duration_seconds', labels: { quantile: '0.95', route: '/play', method: 'GET' }, value: 0.55 },
      { name: 'http_request_duration_seconds', labels: { quantile: '0.99', route: '/play', method: 'GET' }, value: 0.59 },
      { name: 'http_request_duration_seconds_sum', labels: { route: '/play', method: 'GET' }, value: 1.2 },
      { name: 'http_request_duration_seconds_count', labels: { route: '/play', method: 'GET' }, value: 4 },
      { name: 'http_request_duration_seconds_min', labels: { route: '/play', method: 'GET' }, value: 0.1 },
      { name: 'http_request_duration_seconds_max', labels: { route: '/play', method: 'GET' }, value: 0.6 },
    ]);
    expect(parsed.samples.filter((s) => s.labels['route'] === '/search')).toHaveLength(7);
    // Every sample line is exactly `name{labels} value`: no third field (timestamp).
    for (const line of out.text.split('\n').filter((l) => l && !l.startsWith('#'))) expect(line).toMatch(/^\S+ \S+$|^\S+\{.*\} \S+$/);
  });

  it('writes the summary family exactly as prom-client writes its own summaries', async () => {
    const reference = new Registry();
    const summary = new Summary({ name: 'queue_wait_seconds', help: 'h', labelNames: ['queue'], percentiles: [0.5, 0.95, 0.99], registers: [reference] });
    summary.observe({ queue: 'encode' }, 2);
    const ours = await renderExposition([window('queue_wait_seconds', { queue: 'encode' }, { count: 1, sum: 2, min: 2, max: 2, p50: 2, p95: 2, p99: 2 })]);

    const samplesOf = (text: string) => text.split('\n').filter((l) => l.startsWith('queue_wait_seconds') && !/_(min|max)\{/.test(l));
    expect(samplesOf(ours.text)).toEqual(samplesOf(await reference.metrics()));
    expect(ours.text).toContain('# TYPE queue_wait_seconds summary');
  });

  it('escapes label values and keeps the output parseable', async () => {
    const out = await renderExposition([window('track_plays', { title: 'He said "hi"\\\nbye', artist: 'Zoë' })]);
    const parsed = parseExposition(out.text);
    expect(parsed.samples.find((s) => s.name === 'track_plays_count')?.labels).toEqual({ title: 'He said "hi"\\\nbye', artist: 'Zoë' });
  });

  it('renames a series label called quantile to exported_quantile, as Prometheus does on a clash', async () => {
    const parsed = parseExposition((await renderExposition([window('latency', { quantile: 'p99-target' })])).text);
    expect(parsed.samples.find((s) => s.name === 'latency_sum')?.labels).toEqual({ exported_quantile: 'p99-target' });
    expect(parsed.samples.filter((s) => s.name === 'latency').map((s) => s.labels['quantile'])).toEqual(['0.5', '0.95', '0.99']);
  });

  it('leaves out a family whose derived names clash with another, instead of writing an unparseable page', async () => {
    const out = await renderExposition([window('req', {}), window('req_sum', {})]);
    expect(() => parseExposition(out.text)).not.toThrow();
    expect(out.collisions).toEqual(['req_sum']);
    expect(parseExposition(out.text).types.has('req_sum')).toBe(false);
  });

  it('writes one sample set when two series ids carry the same name and labels (the newer wins)', async () => {
    const out = await renderExposition([
      { ...window('plays', { a: '1' }), seriesId: 'x' },
      { ...window('plays', { a: '1' }, { windowStart: T0 + 10_000, count: 9 }), seriesId: 'y' },
    ]);
    const counts = parseExposition(out.text).samples.filter((s) => s.name === 'plays_count');
    expect(counts).toEqual([{ name: 'plays_count', labels: { a: '1' }, value: 9 }]);
  });

  it('renders an empty page for a tenant with no fresh series', async () => {
    const out = await renderExposition([]);
    expect(parseExposition(out.text).samples).toEqual([]);
    expect(out.series).toBe(0);
  });
});

describe('parseExposition', () => {
  it('rejects lines that are neither comments nor samples', () => {
    expect(() => parseExposition('metric{a="1"} 1 2 3\n')).toThrow(/not a comment or a sample/);
    expect(() => parseExposition('metric{a=1} 1\n')).toThrow(/bad labels/);
    expect(() => parseExposition('metric 1\nmetric 2\n')).toThrow(/duplicate sample/);
  });
});
