/**
 * The in-process half of `npm run bench:analytics`, run as its own process (tools/bench cannot
 * import an app, and a fresh process gives the heap figure a clean start):
 *   node --expose-gc -r @swc-node/register apps/analytics/src/bench/in-process.ts
 * Prints one JSON object on stdout. Single-threaded, so points/s is per core; the machine may be
 * shared, so the same figure per CPU-second of this process (GC threads included) is given too.
 */
import { DEFAULT_TENANT_LIMITS, type MetricPoint } from '@headroom/contracts';
import { WindowAggregator } from '../windows/window-aggregator';
import { aggregationThroughput, bytesPerActiveSeries } from './aggregation';

const W = 10_000;

function cpuSecondsSince(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1e6;
}

function throughput(series: number, windows: number) {
  const cpu = process.cpuUsage();
  const r = aggregationThroughput(series, windows);
  const cpuSeconds = cpuSecondsSince(cpu);
  return { ...r, pointsPerCpuSecond: Math.round(r.points / cpuSeconds) };
}

/**
 * Where the time goes: the same loop as aggregationThroughput (10 points per series and window,
 * closed by the watermark), timing `add` and `closeDue` (which summarises each window: quantiles and
 * the DDSketch protobuf) apart.
 */
function breakdown(series: number, windows: number) {
  const a = new WindowAggregator({ windowMs: W, allowedLatenessMs: 2_000, idleCloseMs: 3_000 });
  a.openStream('bench', 0, 0);
  const base: MetricPoint[] = Array.from({ length: series }, (_, i) => ({
    name: 'api_latency_ms',
    labels: { route: `/r${i % 100}`, pod: `api-${Math.floor(i / 100) % 1000}`, region: ['eu', 'us', 'ap'][i % 3], shard: String(Math.floor(i / 100_000)) },
    value: 0,
    timestamp: 0,
    unit: 'ms',
  }));
  const t0 = 1_767_225_600_000;
  let addNs = 0n;
  let closeNs = 0n;
  let points = 0;
  let closed = 0;
  let seed = 7;
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
    closed += a.closeDue(t0 + (w + 1) * W + 2_001, false).length;
    a.acknowledge([]);
    closeNs += process.hrtime.bigint() - m;
    addNs += m - s;
  }
  return {
    series,
    points,
    closedWindows: closed,
    addNsPerPoint: Math.round(Number(addNs) / points),
    closeNsPerWindow: Math.round(Number(closeNs) / Math.max(1, closed)),
    closeShareOfTime: Math.round((Number(closeNs) / Number(addNs + closeNs)) * 100) / 100,
  };
}

function main(): void {
  const only = process.argv[2];
  if (only === 'quick') {
    console.log(JSON.stringify({ series10k: throughput(10_000, 3) }));
    return;
  }
  // Heap first, on a heap that holds nothing else yet.
  const heap100k = bytesPerActiveSeries(100_000);
  const heap10k = bytesPerActiveSeries(10_000);
  aggregationThroughput(10_000, 2); // JIT warm-up
  const series10k = throughput(10_000, 20);
  const series100k = throughput(100_000, 3);
  const split100k = breakdown(100_000, 2);
  console.log(JSON.stringify({ series10k, series100k, breakdown100k: split100k, heap10k, heap100k }));
}

main();
