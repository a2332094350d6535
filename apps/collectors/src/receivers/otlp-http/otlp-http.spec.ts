import { DEFAULT_POINT_LIMITS, type MetricPoint } from '@headroom/contracts';
import { MeterProvider, MetricReader, AggregationTemporality } from '@opentelemetry/sdk-metrics';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { JsonMetricsSerializer, ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { otlpHttpReceiver } from './otlp-http.receiver';
import { AGE_MARGIN_MS, DEFAULT_OTLP_HTTP_CONFIG, mapExportMetricsRequest, quantileSuffix, sanitizeLabelName, sanitizeMetricName } from './mapping';
import { decodeExportMetricsResponse } from './otlp-proto';

const now = Date.UTC(2026, 0, 1, 12, 0, 0);
const nanos = (ms: number) => `${BigInt(ms) * 1_000_000n + 123_456n}`;
const attr = (key: string, value: object) => ({ key, value });
const s = (v: string) => ({ stringValue: v });

const request = (metrics: object[], resource: object[] = [attr('service.name', s('checkout')), attr('host.arch', s('amd64'))]) => ({
  resourceMetrics: [{ resource: { attributes: resource }, scopeMetrics: [{ scope: { name: 'shop.meter', version: '1.0' }, metrics }] }],
});

const map = (req: unknown, limits = DEFAULT_POINT_LIMITS) => mapExportMetricsRequest(req, { limits, now, tenant: 't1' }, DEFAULT_OTLP_HTTP_CONFIG);
const byName = (points: MetricPoint[]) => Object.fromEntries(points.map((p) => [p.name, p]));
const base = { service_name: 'checkout', otel_scope_name: 'shop.meter' };

describe('OTLP metrics → edge points', () => {
  it('gauge: value, ms timestamp, sanitized name, point + resource + scope labels, unit', () => {
    const m = map(
      request([
        { name: 'process.cpu.utilization', unit: '1', gauge: { dataPoints: [{ attributes: [attr('cpu.mode', s('user'))], timeUnixNano: nanos(now - 1000), asDouble: 0.25 }] } },
      ]),
    );
    expect(m.batch.points).toEqual([{ name: 'process_cpu_utilization', labels: { cpu_mode: 'user', ...base }, value: 0.25, timestamp: now - 1000, unit: '1' }]);
    expect(m).toMatchObject({ dataPoints: 1, rejectedDataPoints: 0, discarded: {} });
  });

  it('sum: monotonic cumulative as is (int64 as string), delta with otel_temporality="delta", up-down counter as is', () => {
    const dp = (v: object) => ({ attributes: [attr('route', s('/play'))], timeUnixNano: nanos(now), ...v });
    const m = map(
      request([
        { name: 'http.requests', sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints: [dp({ asInt: '9007199254740' })] } },
        { name: 'bytes.sent', sum: { aggregationTemporality: 1, isMonotonic: true, dataPoints: [dp({ asInt: 42 })] } },
        { name: 'queue.depth', sum: { aggregationTemporality: 2, isMonotonic: false, dataPoints: [dp({ asDouble: -3 })] } },
      ]),
    );
    expect(byName(m.batch.points)).toEqual({
      http_requests: { name: 'http_requests', labels: { route: '/play', ...base }, value: 9007199254740, timestamp: now },
      bytes_sent: { name: 'bytes_sent', labels: { route: '/play', ...base, otel_temporality: 'delta' }, value: 42, timestamp: now },
      queue_depth: { name: 'queue_depth', labels: { route: '/play', ...base }, value: -3, timestamp: now },
    });
  });

  it('histogram and exponential histogram: _count, _sum, _min, _max (when present), no buckets', () => {
    const m = map(
      request([
        {
          name: 'http.server.duration',
          unit: 'ms',
          histogram: { aggregationTemporality: 2, dataPoints: [{ timeUnixNano: nanos(now), count: '4', sum: 100, min: 5, max: 60, bucketCounts: ['1', '3'], explicitBounds: [10] }] },
        },
        { name: 'rpc.latency', exponentialHistogram: { aggregationTemporality: 1, dataPoints: [{ timeUnixNano: nanos(now), count: '2', sum: 3.5, scale: 3, zeroCount: '0', positive: { offset: 1, bucketCounts: ['2'] } }] } },
      ]),
    );
    const p = byName(m.batch.points);
    expect(Object.keys(p).sort()).toEqual(['http_server_duration_count', 'http_server_duration_max', 'http_server_duration_min', 'http_server_duration_sum', 'rpc_latency_count', 'rpc_latency_sum']);
    expect(p['http_server_duration_count']).toEqual({ name: 'http_server_duration_count', labels: base, value: 4, timestamp: now });
    expect(p['http_server_duration_sum']).toMatchObject({ value: 100, unit: 'ms' });
    expect(p['http_server_duration_min'].value).toBe(5);
    expect(p['http_server_duration_max'].value).toBe(60);
    expect(p['rpc_latency_count']).toMatchObject({ value: 2, labels: { ...base, otel_temporality: 'delta' } });
    expect(p['rpc_latency_sum'].value).toBe(3.5);
  });

  it('summary: _count, _sum and one series per quantile (the edge reserves the quantile label)', () => {
    const m = map(
      request([
        {
          name: 'gc.pause',
          summary: {
            dataPoints: [
              {
                timeUnixNano: nanos(now),
                count: '10',
                sum: 55,
                quantileValues: [
                  { quantile: 0, value: 1 },
                  { quantile: 0.5, value: 5 },
                  { quantile: 0.999, value: 9.9 },
                  { quantile: 1, value: 10 },
                ],
              },
            ],
          },
        },
      ]),
    );
    expect(m.batch.points.map((p) => [p.name, p.value])).toEqual([
      ['gc_pause_count', 10],
      ['gc_pause_sum', 55],
      ['gc_pause_min', 1],
      ['gc_pause_p50', 5],
      ['gc_pause_p99_9', 9.9],
      ['gc_pause_max', 10],
    ]);
    expect(m.batch.points.every((p) => !('quantile' in p.labels))).toBe(true);
    expect([0.95, 0.99, 0.25].map(quantileSuffix)).toEqual(['_p95', '_p99', '_p25']);
  });

  it('sanitizes names and label keys; renames reserved and digit-led keys; joins colliding keys; stringifies non-string values', () => {
    expect(sanitizeMetricName('http.server.duration')).toBe('http_server_duration');
    expect(sanitizeMetricName('2xx-responses')).toBe('_2xx_responses');
    expect(sanitizeMetricName('ns:metric/é')).toBe('ns:metric__');
    expect(['k8s.pod.name', 'le', 'quantile', '__name__', '1st', '_ok', ''].map(sanitizeLabelName)).toEqual(['k8s_pod_name', 'key_le', 'key_quantile', 'key___name__', 'key_1st', '_ok', undefined]);
    const m = map(
      request([
        {
          name: 'g',
          gauge: {
            dataPoints: [
              {
                timeUnixNano: nanos(now),
                asDouble: 1,
                attributes: [
                  attr('le', s('0.5')),
                  attr('__name__', s('x')),
                  attr('a.b', s('dot')),
                  attr('a_b', s('underscore')),
                  attr('ok', { boolValue: true }),
                  attr('n', { intValue: '7' }),
                  attr('d', { doubleValue: 1.5 }),
                  attr('list', { arrayValue: { values: [s('x'), { intValue: '2' }] } }),
                  attr('empty', s('')),
                  attr('service.name', s('overridden-by-point')),
                ],
              },
            ],
          },
        },
      ]),
    );
    expect(m.batch.points[0].labels).toEqual({
      key_le: '0.5',
      key___name__: 'x',
      a_b: 'dot;underscore',
      ok: 'true',
      n: '7',
      d: '1.5',
      list: '["x","2"]',
      service_name: 'overridden-by-point',
      otel_scope_name: 'shop.meter',
    });
    // Only the configured resource attributes become labels (host.arch is not one).
    expect(m.batch.points[0].labels).not.toHaveProperty('host_arch');
  });

  it('drops what the edge would refuse, counted per reason, as OTLP partial success', () => {
    const g = (name: string, dp: object) => ({ name, gauge: { dataPoints: [{ timeUnixNano: nanos(now), asDouble: 1, ...dp }] } });
    const many = Array.from({ length: 30 }, (_, i) => attr(`k${i}`, s('v')));
    const m = map(
      request([
        g('ok', {}),
        g('nan', { asDouble: 'NaN' }),
        g('inf', { asDouble: 'Infinity' }),
        g('old', { timeUnixNano: nanos(now - DEFAULT_POINT_LIMITS.maxSampleAgeMs + AGE_MARGIN_MS - 1) }),
        g('future', { timeUnixNano: nanos(now + DEFAULT_POINT_LIMITS.creationGracePeriodMs + 1) }),
        g('notime', { timeUnixNano: undefined }),
        g('wide', { attributes: many }),
        g('ctrl', { attributes: [attr('v', s('a\u0001b'))] }),
        g('stale', { flags: 1 }),
        { name: 'nosum', sum: { dataPoints: [{ timeUnixNano: nanos(now), asInt: '1' }] } },
      ]),
    );
    expect(m.batch.points.map((p) => p.name)).toEqual(['ok']);
    expect(m.rejectedDataPoints).toBe(9);
    expect(m.discarded).toEqual({
      invalid_value: 2,
      sample_too_old: 1,
      too_far_in_future: 1,
      invalid_timestamp: 1,
      max_label_names_per_series: 1,
      invalid_label_value: 1,
      otlp_no_recorded_value: 1,
      otlp_unspecified_temporality: 1,
    });
  });

  it('refuses bodies that are not an ExportMetricsServiceRequest (400) and other content types (415)', () => {
    const decode = (body: unknown, contentType: string) => otlpHttpReceiver.decode({ body, contentType, headers: {}, tenant: 't1', now, limits: DEFAULT_POINT_LIMITS }, DEFAULT_OTLP_HTTP_CONFIG);
    expect(decode(Buffer.from([0x0a, 0xff, 0xff, 0xff]), 'application/x-protobuf')).toMatchObject({ ok: false, status: 400 });
    expect(decode({ resourceMetrics: {} }, 'application/json')).toMatchObject({ ok: false, status: 400, message: expect.stringContaining('resourceMetrics must be an array') });
    expect(decode([], 'application/json')).toMatchObject({ ok: false, status: 400 });
    expect(decode({ resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 'x', gauge: { dataPoints: [{ asDouble: true }] } }] }] }] }, 'application/json; charset=utf-8')).toMatchObject({ ok: false, status: 400 });
    expect(decode('x', 'text/plain')).toMatchObject({ ok: false, status: 415 });
    expect(decode({}, 'application/json')).toEqual({ ok: true, batch: { points: [], events: [] }, discarded: {} });
  });

  it('answers an ExportMetricsServiceResponse in the request encoding, with partialSuccess when some were dropped', () => {
    const accepted = { batchId: 'b', accepted: { points: 1, events: 0 } };
    const proto = otlpHttpReceiver.respond!(accepted, 'application/x-protobuf', { rejected: 2, message: 'two' });
    expect(proto).toMatchObject({ status: 200, contentType: 'application/x-protobuf' });
    expect(decodeExportMetricsResponse(proto.body as Buffer)).toEqual({ partialSuccess: { rejectedDataPoints: '2', errorMessage: 'two' } });
    expect(decodeExportMetricsResponse(otlpHttpReceiver.respond!(accepted, 'application/x-protobuf').body as Buffer)).toEqual({});
    expect(otlpHttpReceiver.respond!(accepted, 'application/json', { rejected: 2, message: 'two' })).toEqual({
      status: 200,
      contentType: 'application/json',
      body: { partialSuccess: { rejectedDataPoints: '2', errorMessage: 'two' } },
    });
    expect(otlpHttpReceiver.respond!(accepted, 'application/json').body).toEqual({});
  });

  it('validates its config', () => {
    expect(otlpHttpReceiver.validate(DEFAULT_OTLP_HTTP_CONFIG)).toEqual([]);
    expect(otlpHttpReceiver.validate({ resourceAttributes: Array.from({ length: 17 }, (_, i) => `k${i}`), scopeNameLabel: 'yes' }).map((i) => i.path)).toEqual(['resourceAttributes', 'scopeNameLabel']);
  });

  describe('what the OpenTelemetry JS SDK serializes', () => {
    class Collect extends MetricReader {
      constructor() {
        super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
      }
      protected async onForceFlush(): Promise<void> {}
      protected async onShutdown(): Promise<void> {}
    }

    async function sdkExport() {
      const reader = new Collect();
      const provider = new MeterProvider({ resource: resourceFromAttributes({ 'service.name': 'sdk-svc', 'service.instance.id': 'i-1' }), readers: [reader] });
      const meter = provider.getMeter('sdk.meter');
      meter.createCounter('plays.total').add(3, { 'route.name': '/play' });
      meter.createHistogram('http.server.duration', { unit: 'ms' }).record(120);
      meter.createUpDownCounter('queue.depth').add(-2);
      const { resourceMetrics } = await reader.collect();
      await provider.shutdown();
      return resourceMetrics;
    }

    it.each([
      ['application/x-protobuf', (rm: unknown) => Buffer.from(ProtobufMetricsSerializer.serializeRequest(rm as never)!)],
      ['application/json', (rm: unknown) => JSON.parse(Buffer.from(JsonMetricsSerializer.serializeRequest(rm as never)!).toString('utf8'))],
    ])('decodes %s', async (contentType, serialize) => {
      const rm = await sdkExport();
      const decoded = await otlpHttpReceiver.decode({ body: serialize(rm), contentType, headers: {}, tenant: 't1', now: Date.now(), limits: DEFAULT_POINT_LIMITS }, DEFAULT_OTLP_HTTP_CONFIG);
      if (!decoded.ok) throw new Error(decoded.message);
      const p = byName(decoded.batch.points);
      const labels = { service_name: 'sdk-svc', service_instance_id: 'i-1', otel_scope_name: 'sdk.meter' };
      expect(p['plays_total']).toMatchObject({ value: 3, labels: { route_name: '/play', ...labels } });
      expect(p['queue_depth']).toMatchObject({ value: -2, labels });
      expect(p['http_server_duration_count']).toMatchObject({ value: 1, labels });
      expect(p['http_server_duration_sum']).toMatchObject({ value: 120, unit: 'ms' });
      expect(Math.abs(p['plays_total'].timestamp - Date.now())).toBeLessThan(10_000);
      expect(decoded.partial).toBeUndefined();
    });
  });
});

