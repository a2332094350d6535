/**
 * Seeds 1 min windows for tools/bench/query.bench.ts (run as its own process: tools may not import
 * apps). Through WindowsRepository, so the schema and partitions are analytics' own. Reads
 * BENCH_TENANT, BENCH_METRIC, BENCH_SERIES, BENCH_END (ms, a whole minute) and DATABASE_URL; prints
 * `{"rows": n}`. Each window holds a DDSketch of 60 log-normal-ish values, as a busy series would.
 */
import { Pool } from 'pg';
import { WindowSketch } from '@headroom/contracts';
import { RESOLUTIONS, WindowsRepository } from '../../windows/windows.repository';

const MINUTE = 60_000;
const DAY = 24 * 3600_000;

function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

async function main(): Promise<void> {
  const tenant = process.env['BENCH_TENANT']!;
  const metric = process.env['BENCH_METRIC']!;
  const series = Number(process.env['BENCH_SERIES']);
  const end = Number(process.env['BENCH_END']);
  const pool = new Pool({ connectionString: process.env['DATABASE_URL'], max: 2 });
  const repo = new WindowsRepository(pool);
  await repo.migrate();
  const minute = RESOLUTIONS[1];
  // Five minutes before the day too: a [5m] range at the first step reads them.
  const starts = Array.from({ length: DAY / MINUTE + 5 }, (_, i) => end - DAY - 5 * MINUTE + i * MINUTE);
  await repo.ensurePartitions(minute, starts);
  const random = rng(42);
  let rows = 0;
  for (let s = 0; s < series; s++) {
    const cols: unknown[][] = Array.from({ length: 14 }, () => []);
    for (const start of starts) {
      const sketch = new WindowSketch();
      for (let i = 0; i < 60; i++) sketch.accept(Math.exp(3 + 2 * random()));
      const [p50, p95, p99] = sketch.quantiles([0.5, 0.95, 0.99]);
      const row = [tenant, `${tenant}-${s}`, start, metric, JSON.stringify({ instance: `i-${s}`, route: `/r${s % 10}` }), sketch.count, sketch.sum, sketch.min, sketch.max, p50, p95, p99, sketch.toProto(), 'ms'];
      row.forEach((v, i) => cols[i].push(v));
    }
    await pool.query(
      `insert into ${minute.table} (tenant, series_id, window_start, name, labels, count, sum, min, max, p50, p95, p99, sketch, unit)
       select * from unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::jsonb[], $6::bigint[], $7::float8[], $8::float8[], $9::float8[],
                            $10::float8[], $11::float8[], $12::float8[], $13::bytea[], $14::text[])`,
      cols,
    );
    rows += starts.length;
  }
  await pool.query(`analyze ${minute.table}`);
  await pool.end();
  process.stdout.write(`${JSON.stringify({ rows })}\n`);
}

main().catch((err) => {
  process.stderr.write(`seed failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
