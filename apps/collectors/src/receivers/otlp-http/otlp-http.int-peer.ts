/**
 * The integration spec's peer: a service instrumented with the real OpenTelemetry JS SDK
 * (MeterProvider + PeriodicExportingMetricReader + an OTLP exporter), run as its own Node process —
 * the exporters load `http` with a dynamic import(), which Jest's module sandbox refuses. Records a
 * counter, an up-down counter, a gauge and a histogram, flushes once, and prints the exporter's
 * results as one JSON line. Argument: a JSON object (see `Args`).
 */
import { MeterProvider, PeriodicExportingMetricReader, type PushMetricExporter } from '@opentelemetry/sdk-metrics';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { OTLPMetricExporter as ProtoExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { AggregationTemporalityPreference, OTLPMetricExporter as JsonExporter } from '@opentelemetry/exporter-metrics-otlp-http';

interface Args {
  url: string;
  key?: string;
  encoding: 'protobuf' | 'json';
  gzip?: boolean;
  delta?: boolean;
  serviceName: string;
  /** Metric names get `.<run>` appended. */
  run: string;
  route: string;
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2]) as Args;
  const options = {
    url: args.url,
    headers: (args.key ? { Authorization: `Bearer ${args.key}` } : {}) as Record<string, string>,
    // CompressionAlgorithm.GZIP / NONE (the enum lives in @opentelemetry/otlp-exporter-base).
    compression: (args.gzip ? 'gzip' : 'none') as never,
    temporalityPreference: args.delta ? AggregationTemporalityPreference.DELTA : AggregationTemporalityPreference.CUMULATIVE,
  };
  const inner: PushMetricExporter = args.encoding === 'protobuf' ? new ProtoExporter(options) : new JsonExporter(options);
  const results: { code: number; error?: string; status?: number }[] = [];
  const exporter: PushMetricExporter = {
    export: (metrics, done) =>
      inner.export(metrics, (r) => {
        results.push({ code: r.code, error: r.error?.message, status: (r.error as { code?: number } | undefined)?.code });
        done(r);
      }),
    forceFlush: () => inner.forceFlush(),
    shutdown: () => inner.shutdown(),
    selectAggregationTemporality: inner.selectAggregationTemporality?.bind(inner),
    selectAggregation: inner.selectAggregation?.bind(inner),
  };
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ 'service.name': args.serviceName, 'service.instance.id': `${args.serviceName}-1`, 'host.arch': 'amd64' }),
    // A long interval: one export, by forceFlush.
    readers: [new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 600_000 })],
  });
  const meter = provider.getMeter('headroom.otlp.int', '1.0.0');
  const name = (what: string) => `otlp.${what}.${args.run}`;
  const plays = meter.createCounter(name('plays'), { unit: '{play}' });
  plays.add(3, { 'http.route': args.route, le: 'x' });
  plays.add(2, { 'http.route': args.route, le: 'x' });
  const queue = meter.createUpDownCounter(name('queue.depth'));
  queue.add(5);
  queue.add(-2);
  meter.createGauge(name('temperature'), { unit: 'Cel' }).record(21.5, { 'room.id': 7 });
  const latency = meter.createHistogram(name('http.server.duration'), { unit: 'ms' });
  for (const v of [10, 20, 30, 240]) latency.record(v, { 'http.route': args.route });
  await provider.forceFlush();
  // No provider.shutdown(): it would export the cumulative points a second time.
  process.stdout.write(`${JSON.stringify({ results })}\n`);
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
