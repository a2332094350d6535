import { DEFAULT_TENANT_LIMITS, type MetricPoint } from '@headroom/contracts';
import { WindowAggregator } from '../windows/window-aggregator';

const W = 10_000;

function makeSeries(n: number): MetricPoint[] {
  return Array.from({ length: n }, (_, i) => ({
    name: 'api_latency_ms',
    labels: { route: `/r${i % 100}`, pod: `api-${Math.floor(i / 100) % 1000}`, region: ['eu', 'us', 'ap'][i % 3], shard: String(Math.floor(i / 100_000)) },
    value: 0,
    timestamp: 0,
    unit: 'ms',
  }));
}

/**
 * In-process aggregation: points/s on one core into `series` active series, 10 points per series
 * per 10 s window (event time advances accordingly), windows closed by the watermark as they fall
 * due and acknowledged (as a flush does once they are stored). Parsed points are fresh objects in
 * production; here they are reused, which costs the same label walk per point. Times `add` and
 * `closeDue` (which summarises each window: quantiles and the DDSketch protobuf) apart.
 */
export function aggregationThroughput(
  series: number,
  windows: number,
): { series: number; points: number; pointsPerSecond: number; closedWindows: number; addNsPerPoint: number; closeNsPerWindow: number; closeShareOfTime: number } {
  const a = new WindowAggregator({ windowMs: W, allowedLatenessMs: 2_000, idleCloseMs: 3_000 });
  a.openStream('bench', 0, 0);
  const base = makeSeries(series);
  const t0 = 1_767_225_600_000;
  let closed = 0;
  let points = 0;
  let seed = 5;
  let addNs = 0n;
  let closeNs = 0n;
  for (let w = 0; w < windows; w++) {
    const s = process.hrtime.bigint();
    for (let k = 0; k < 10; k++) {
      const ts = t0 + w * W + k * 1000;
      for (let i = 0; i < series; i++) {
        const p = base[i];
        p.timestamp = ts;
        p.value = (seed = (seed * 16807) % 2147483647) / 21474836.47;
        a.add('bench', p, { partition: 0, offset: points }, ts, ts, DEFAULT_TENANT_LIMITS);
        points++;
      }
    }
    const m = process.hrtime.bigint();
    const due = a.closeDue(t0 + (w + 1) * W + 2_001, false);
    a.acknowledge(due);
    closed += due.length;
    closeNs += process.hrtime.bigint() - m;
    addNs += m - s;
  }
  const seconds = Number(addNs + closeNs) / 1e9;
  return {
    series,
    points,
    pointsPerSecond: Math.round(points / seconds),
    closedWindows: closed,
    addNsPerPoint: Math.round(Number(addNs) / points),
    closeNsPerWindow: Math.round(Number(closeNs) / Math.max(1, closed)),
    closeShareOfTime: Math.round((Number(closeNs) / Number(addNs + closeNs)) * 100) / 100,
  };
}

/** Heap per active series: one open window of 10 points each (run with --expose-gc for a clean figure). */
export function bytesPerActiveSeries(series: number): { series: number; heapBytesPerSeries: number; gcExposed: boolean } {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const before = process.memoryUsage().heapUsed;
  const a = new WindowAggregator({ windowMs: W, allowedLatenessMs: 2_000, idleCloseMs: 3_000 });
  a.openStream('bench', 0, 0);
  const t0 = 1_767_225_600_000;
  // Fresh label objects per series, as parsed records would hold them.
  const base = makeSeries(series);
  for (let k = 0; k < 10; k++) for (let i = 0; i < series; i++) a.add('bench', { ...base[i], value: 50 + ((i * 7 + k * 13) % 400), timestamp: t0 + k * 1000 }, { partition: 0, offset: k }, t0, t0, DEFAULT_TENANT_LIMITS);
  gc?.();
  const after = process.memoryUsage().heapUsed;
  const result = { series, heapBytesPerSeries: Math.round((after - before) / series), gcExposed: Boolean(gc) };
  if (a.openWindows() !== series) throw new Error('bench: unexpected window count');
  return result;
}
