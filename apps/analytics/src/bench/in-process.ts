/**
 * The in-process half of `npm run bench:analytics`, run as its own process (tools/bench cannot
 * import an app, and a fresh process gives the heap figure a clean start):
 *   node --expose-gc -r @swc-node/register apps/analytics/src/bench/in-process.ts
 * Prints one JSON object on stdout. Single-threaded, so points/s is per core; the machine may be
 * shared, so the same figure per CPU-second of this process (GC threads included) is given too.
 */
import { aggregationThroughput, bytesPerActiveSeries } from './aggregation';

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
  const { addNsPerPoint, closeNsPerWindow, closeShareOfTime, ...split } = aggregationThroughput(100_000, 2);
  const split100k = { series: split.series, points: split.points, closedWindows: split.closedWindows, addNsPerPoint, closeNsPerWindow, closeShareOfTime };
  console.log(JSON.stringify({ series10k, series100k, breakdown100k: split100k, heap10k, heap100k }));
}

main();
