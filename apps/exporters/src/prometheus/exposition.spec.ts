import { negotiateFormat, openMetricsContentType, renderExposition, TEXT_CONTENT_TYPE } from './exposition';
import { parseExposition } from './exposition.parser';
import type { ExposedWindow } from './windows.repository';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const W = 10_000;

function window(name: string, labels: Record<string, string>, k = 0, values: Partial<ExposedWindow> = {}): ExposedWindow {
  return {
    series: { name, labels },
    seriesId: `${name}${JSON.stringify(labels)}`,
    windowStart: T0 + k * W,
    windowMs: W,
    count: 4,
    sum: 1.2,
    min: 0.1,
    max: 0.6,
    p50: 0.25,
    p95: 0.55,
    p99: 0.59,
    pointsTotal: 40 + 4 * k,
    pointsSumTotal: 12 + 1.2 * k,
    latest: true,
    ...values,
  };
}

const PROMETHEUS_ACCEPT = 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

describe('negotiateFormat', () => {
  it("answers Prometheus's own Accept header with OpenMetrics 1.0.0", () => {
    expect(negotiateFormat(PROMETHEUS_ACCEPT)).toEqual({ format: 'openmetrics', contentType: openMetricsContentType('1.0.0') });
  });

  it('answers the text format without a header, for */*, text/plain, or when text is preferred', () => {
    for (const accept of [undefined, '*/*', 'text/plain', 'text/plain;version=0.0.4', 'application/openmetrics-text;q=0.2,text/plain;q=0.9']) {
      expect(negotiateFormat(accept)).toEqual({ format: 'text', contentType: TEXT_CONTENT_TYPE });
    }
  });

  it('answers OpenMetrics in the version asked for, and never for a version it does not write', () => {
    expect(negotiateFormat('application/openmetrics-text;version=0.0.1').contentType).toBe(openMetricsContentType('0.0.1'));
    expect(negotiateFormat('application/openmetrics-text;version=2.0.0,text/plain;q=0.1').format).toBe('text');
    expect(negotiateFormat('application/openmetrics-text;q=0').format).toBe('text');
  });
});

describe('renderExposition', () => {
  it('writes window gauges and cumulative counters per series, each stamped with its window end (text: ms)', () => {
    const out = renderExposition([window('http_duration_seconds', { route: '/play', method: 'GET' }, 0, { unit: 's' })], 'text');
    const parsed = parseExposition(out.text, 'text');
    const end = T0 + W;

    expect(Object.fromEntries(parsed.types)).toEqual({
      http_duration_seconds: 'gauge',
      http_duration_seconds_count: 'gauge',
      http_duration_seconds_sum: 'gauge',
      http_duration_seconds_min: 'gauge',
      http_duration_seconds_max: 'gauge',
      http_duration_seconds_points_total: 'counter',
      http_duration_seconds_points_sum_total: 'counter',
    });
    const labels = { method: 'GET', route: '/play' };
    expect(parsed.samples).toEqual([
      { name: 'http_duration_seconds', labels: { quantile: '0.5', ...labels }, value: 0.25, timestampMs: end },
      { name: 'http_duration_seconds', labels: { quantile: '0.95', ...labels }, value: 0.55, timestampMs: end },
      { name: 'http_duration_seconds', labels: { quantile: '0.99', ...labels }, value: 0.59, timestampMs: end },
      { name: 'http_duration_seconds_count', labels, value: 4, timestampMs: end },
      { name: 'http_duration_seconds_sum', labels, value: 1.2, timestampMs: end },
      { name: 'http_duration_seconds_min', labels, value: 0.1, timestampMs: end },
      { name: 'http_duration_seconds_max', labels, value: 0.6, timestampMs: end },
      { name: 'http_duration_seconds_points_total', labels, value: 40, timestampMs: end },
      { name: 'http_duration_seconds_points_sum_total', labels, value: 12, timestampMs: end },
    ]);
    expect(out.text).toContain(`http_duration_seconds_count{method="GET",route="/play"} 4 ${end}\n`);
    expect(out.text).toContain('# HELP http_duration_seconds_count Points of http_duration_seconds (s) over each closed 10s window');
  });

  it('writes every window of a series in OpenMetrics, oldest first, stamped in seconds, ending with # EOF', () => {
    const windows = [window('plays', { a: '1' }, 2), window('plays', { a: '1' }, 0), window('plays', { a: '1' }, 1, { pointsTotal: null, pointsSumTotal: null })];
    const out = renderExposition(windows, 'openmetrics');
    const parsed = parseExposition(out.text, 'openmetrics');

    expect(out.text.endsWith('# EOF\n')).toBe(true);
    expect(out.text).toContain('# TYPE plays_points counter\n');
    expect(out.text).toContain(`plays_count{a="1"} 4 ${(T0 + W) / 1000}.000\n`);
    const of = (name: string, extra: Record<string, string> = {}) =>
      parsed.samples.filter((s) => s.name === name && Object.entries(extra).every(([k, v]) => s.labels[k] === v)).map((s) => [s.timestampMs! - T0, s.value]);
    expect(of('plays_count')).toEqual([
      [W, 4],
      [2 * W, 4],
      [3 * W, 4],
    ]);
    expect(of('plays', { quantile: '0.95' })).toHaveLength(3);
    // A window that arrived after a newer one carries no counter point of its own.
    expect(of('plays_points_total')).toEqual([
      [W, 40],
      [3 * W, 48],
    ]);
    expect(out.series).toBe(1);
    expect(out.samples).toBe(3 * 7 + 2 * 2);
  });

  it('keeps only the newest window per series in the text format (one sample per series there)', () => {
    const out = renderExposition([window('plays', { a: '1' }, 0), window('plays', { a: '1' }, 1, { count: 9 })], 'text');
    expect(parseExposition(out.text, 'text').samples.filter((s) => s.name === 'plays_count')).toEqual([{ name: 'plays_count', labels: { a: '1' }, value: 9, timestampMs: T0 + 2 * W }]);
  });

  it('escapes label values and keeps the output parseable in both formats', () => {
    const labels = { title: 'He said "hi"\\\nbye', artist: 'Zoë' };
    for (const format of ['text', 'openmetrics'] as const) {
      const parsed = parseExposition(renderExposition([window('track_plays', labels)], format).text, format);
      expect(parsed.samples.find((s) => s.name === 'track_plays_count')?.labels).toEqual(labels);
    }
  });

  it('renames a series label called quantile to exported_quantile, as Prometheus does on a clash', () => {
    const parsed = parseExposition(renderExposition([window('latency', { quantile: 'p99-target' })], 'text').text);
    expect(parsed.samples.find((s) => s.name === 'latency_sum')?.labels).toEqual({ exported_quantile: 'p99-target' });
    expect(parsed.samples.filter((s) => s.name === 'latency').map((s) => s.labels['quantile'])).toEqual(['0.5', '0.95', '0.99']);
  });

  it('leaves out a family whose derived names clash with another, instead of writing an unparseable page', () => {
    for (const [a, b] of [
      ['req', 'req_sum'],
      ['req', 'req_points'],
      ['req', 'req_points_total'],
    ]) {
      const out = renderExposition([window(a, {}), window(b, {})], 'openmetrics');
      expect(() => parseExposition(out.text, 'openmetrics')).not.toThrow();
      expect(out.collisions).toEqual([b]);
    }
  });

  it('writes one series when two series ids carry the same name and labels (the newer wins)', () => {
    const out = renderExposition([{ ...window('plays', { a: '1' }, 0, { count: 1 }), seriesId: 'x' }, { ...window('plays', { a: '1' }, 1, { count: 9 }), seriesId: 'y' }], 'openmetrics');
    const counts = parseExposition(out.text, 'openmetrics').samples.filter((s) => s.name === 'plays_count');
    expect(counts.map((s) => s.value)).toEqual([9]);
  });

  it('renders an empty page for a tenant with no fresh series', () => {
    expect(renderExposition([], 'text')).toMatchObject({ text: '', series: 0 });
    expect(renderExposition([], 'openmetrics')).toMatchObject({ text: '# EOF\n', series: 0 });
  });
});

describe('parseExposition', () => {
  it('rejects what a scraper would reject', () => {
    expect(() => parseExposition('metric{a="1"} 1 2 3\n')).toThrow(/not a comment or a sample/);
    expect(() => parseExposition('metric{a=1} 1\n')).toThrow(/bad labels/);
    expect(() => parseExposition('metric 1 10\nmetric 2 20\n')).toThrow(/duplicate sample/);
    expect(() => parseExposition('metric 1 1.5\n')).toThrow(/bad timestamp/);
    expect(() => parseExposition('# TYPE m gauge\nm 1 20\nm 2 10\n# EOF\n', 'openmetrics')).toThrow(/duplicate sample/);
    expect(() => parseExposition('# TYPE m gauge\nm 1 10\n', 'openmetrics')).toThrow(/# EOF/);
    expect(() => parseExposition('# TYPE m counter\nm 1\n# EOF\n', 'openmetrics')).toThrow(/outside its family/);
    expect(() => parseExposition('# TYPE m gauge\nm 1\n# TYPE n gauge\nn 1\n# TYPE m gauge\n# EOF\n', 'openmetrics')).toThrow(/interleaved/);
  });
});
