/**
 * Throughput of the push sinks (run by tools/bench/exporters.bench.ts, which starts the stores and
 * passes their URLs): `BENCH_WINDOWS` windows (`BENCH_SERIES` series × consecutive 10 s windows)
 * written straight through each sink's `write()` in records of `BENCH_RECORD_WINDOWS` windows,
 * `BENCH_CONCURRENCY` lanes at once (split by series, as partitions split them), until the store
 * acknowledged them. A "point" is one window; the store keeps 7 samples of each. Prints JSON.
 */
import type { AggregateWindow } from '@headroom/contracts';
import { influxdbSinkType } from './influxdb/influxdb.sink';
import { remoteWriteSinkType } from './remote-write/remote-write.sink';
import type { ExportSink } from './sink';

const WINDOWS = Number(process.env['BENCH_WINDOWS'] ?? 100_000);
const SERIES = Number(process.env['BENCH_SERIES'] ?? 1_000);
const RECORD_WINDOWS = Number(process.env['BENCH_RECORD_WINDOWS'] ?? 2_000);
const CONCURRENCY = Number(process.env['BENCH_CONCURRENCY'] ?? 4);
const VM_URL = process.env['BENCH_VM_URL'] ?? '';
const PROMETHEUS_URL = process.env['BENCH_PROMETHEUS_URL'] ?? '';

/**
 * The windows split into `CONCURRENCY` lanes by series (as Kafka partitions split them), each lane a
 * list of records in window order: a series' windows reach the store oldest first, which Prometheus requires.
 */
function lanesFor(name: string, start: number): AggregateWindow[][][] {
  const perSeries = Math.ceil(WINDOWS / SERIES);
  const lanes: AggregateWindow[][] = Array.from({ length: CONCURRENCY }, () => []);
  let n = 0;
  for (let k = 0; k < perSeries; k++) {
    for (let s = 0; s < SERIES && n < WINDOWS; s++, n++) {
      const labels = { route: `/r${s % 50}`, instance: `api-${s}`, region: ['eu', 'us', 'ap'][s % 3] };
      lanes[s % CONCURRENCY].push({ series: { name, labels }, seriesId: `${name}-${s}`, windowStart: start + k * 10_000, windowMs: 10_000, count: 10 + k, sum: 25.5 + k, min: 0.5, max: 9.5, p50: 2, p95: 7, p99: 9 });
    }
  }
  return lanes.map((lane) => {
    const records: AggregateWindow[][] = [];
    for (let i = 0; i < lane.length; i += RECORD_WINDOWS) records.push(lane.slice(i, i + RECORD_WINDOWS));
    return records;
  });
}

async function throughput(sink: ExportSink, name: string, check: () => Promise<number>) {
  // Recent enough for Prometheus's head block: the windows end within the last few hours.
  const perSeries = Math.ceil(WINDOWS / SERIES);
  const lanes = lanesFor(name, Math.floor(Date.now() / 10_000) * 10_000 - (perSeries + 1) * 10_000);
  const started = process.hrtime.bigint();
  await Promise.all(
    lanes.map(async (lane) => {
      for (const record of lane) await sink.write('bench', record);
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { windows: WINDOWS, seconds: Number(seconds.toFixed(2)), pointsPerSecond: Math.round(WINDOWS / seconds), samplesPerSecond: Math.round((WINDOWS * 7) / seconds), seriesStored: await check() };
}

async function seriesIn(url: string, metric: string): Promise<number> {
  if (url === VM_URL) await fetch(`${url}/internal/force_flush`);
  const res = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: `count(${metric})` })}`);
  const body = (await res.json()) as { data: { result: { value: [number, string] }[] } };
  return Number(body.data.result[0]?.value[1] ?? 0);
}

async function main(): Promise<void> {
  const run = Date.now().toString(36);
  const rwVm = remoteWriteSinkType.create({ ...remoteWriteSinkType.defaultConfig(), url: `${VM_URL}/api/v1/write` });
  const influxVm = influxdbSinkType.create({ ...influxdbSinkType.defaultConfig(), url: VM_URL });
  const rwProm = remoteWriteSinkType.create({ ...remoteWriteSinkType.defaultConfig(), url: `${PROMETHEUS_URL}/api/v1/write` });
  const out = {
    settings: { WINDOWS, SERIES, RECORD_WINDOWS, CONCURRENCY },
    remoteWriteToVictoriaMetrics: await throughput(rwVm, `bench_rw_${run}`, () => seriesIn(VM_URL, `bench_rw_${run}_count`)),
    influxToVictoriaMetrics: await throughput(influxVm, `bench_lp_${run}`, () => seriesIn(VM_URL, `bench_lp_${run}_count`)),
    remoteWriteToPrometheus: await throughput(rwProm, `bench_rwp_${run}`, () => seriesIn(PROMETHEUS_URL, `bench_rwp_${run}_count`)),
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${String(err instanceof Error ? err.stack : err)}\n`);
    process.exit(1);
  },
);
