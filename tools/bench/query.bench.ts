/**
 * Query API benchmark, printed as one JSON object on stdout (progress on stderr):
 *   npm run bench:query
 * Seeds BENCH_SERIES (100) series × 24 h of 1 min windows (each with its DDSketch of 60 values)
 * for a fresh tenant straight into analytics' tables (apps/analytics/src/query/bench/seed-windows.ts,
 * through WindowsRepository),
 * starts analytics' query API as a process (serve-query.ts: analytics' modules minus the telemetry
 * consumer, which would read the shared topic) on the real Kafka and PostgreSQL, and times
 * over HTTP, with the tenant's read key:
 *   - /v1/query/range over the 24 h at step 1m, all default statistics (count, sum, min, max,
 *     mean, p50, p95, p99: the p-columns are read, no sketch decoded);
 *   - /prometheus/api/v1/query_range avg_over_time(m[1m]) over the 24 h at step 60s;
 *   - /prometheus/api/v1/query_range quantile_over_time(0.95, m[5m]) (five sketches merged per
 *     point: the costly case), fewer iterations.
 * Knobs: BENCH_SERIES (100), BENCH_ITERATIONS (100; a tenth for the quantile query), BENCH_PORT (5530). The tenant's rows are
 * deleted afterwards. docs/benchmarks.md (## Query API) explains the figures.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'pg';
import { ControlRecordMessage, controlKey, type ControlRecord } from '@headroom/contracts';
import { createWrappedKey, KeyEncryptionKey } from '@headroom/crypto';
import { createKafkaClient, RecordPublisher } from '@headroom/kafka';
import { generateApiKey } from '@headroom/tenancy';
import { expectEventually, localSecrets, ROOT, serviceEnv, silentLogger, testInfra, controlTrust } from '@headroom/testing';

const env = (name: string, dflt: number) => (process.env[name] ? Number(process.env[name]) : dflt);
const SERIES = env('BENCH_SERIES', 100);
const ITERATIONS = env('BENCH_ITERATIONS', 100);
const PORT = env('BENCH_PORT', 5530);
const MINUTE = 60_000;
const DAY = 24 * 3600_000;

const began = Date.now();
const log = (msg: string) => process.stderr.write(`[bench:query +${((Date.now() - began) / 1000).toFixed(1)}s] ${msg}\n`);

const run = randomBytes(3).toString('hex');
const tenant = `bench-query-${run}`;
const metric = `bench_latency_ms_${run}`;
const secrets = { ...localSecrets(), kek: randomBytes(32).toString('base64') };
const infra = testInfra();
const pool = new Pool({ connectionString: infra.databaseUrl, max: 4 });
const env0 = serviceEnv('analytics', secrets, { slackApiUrl: 'http://127.0.0.1:1/api/', groupPrefix: `bench-query-${run}` });
let server: ChildProcess | undefined;

/** The query API alone (apps/analytics/src/query/bench/serve-query.ts), spawned as `npm start` spawns apps. */
async function startServer(): Promise<void> {
  mkdirSync(join(ROOT, 'tmp', 'test-logs'), { recursive: true });
  const log = createWriteStream(join(ROOT, 'tmp', 'test-logs', `bench-query-${run}.log`), { flags: 'a' });
  server = spawn(process.execPath, ['-r', '@swc-node/register', join(ROOT, 'apps', 'analytics', 'src', 'query', 'bench', 'serve-query.ts')], {
    cwd: ROOT,
    env: { ...process.env, ...env0, PORT: String(PORT), HOST: '127.0.0.1', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server.stdout!.pipe(log);
  server.stderr!.pipe(log);
  await expectEventually(
    async () => {
      if (server!.exitCode !== null) throw new Error(`query server exited; see tmp/test-logs/bench-query-${run}.log`);
      const res = await fetch(`http://127.0.0.1:${PORT}/readyz`);
      if (res.status !== 200) throw new Error('not ready');
    },
    { timeoutMs: 90_000, intervalMs: 250 },
  );
}

async function stopServer(): Promise<void> {
  if (!server || server.exitCode !== null) return;
  const exited = new Promise((r) => server!.once('exit', r));
  server.kill('SIGTERM');
  const timer = setTimeout(() => server?.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Seeds through analytics' own WindowsRepository, in a process of its own (tools may not import apps). */
function seed(end: number): number {
  const out = execFileSync(process.execPath, ['-r', '@swc-node/register', join(ROOT, 'apps', 'analytics', 'src', 'query', 'bench', 'seed-windows.ts')], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: infra.databaseUrl, BENCH_TENANT: tenant, BENCH_METRIC: metric, BENCH_SERIES: String(SERIES), BENCH_END: String(end) },
    timeout: 600_000,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return (JSON.parse(out.toString()) as { rows: number }).rows;
}

async function makeTenant(): Promise<string> {
  const kafka = createKafkaClient({ brokers: infra.brokers, clientId: `bench-query-${run}`, logger: silentLogger() });
  const publisher = new RecordPublisher(kafka, undefined, undefined, { signer: controlTrust().signer });
  await publisher.connect();
  const at = new Date().toISOString();
  const key = generateApiKey();
  const records: ControlRecord[] = [
    { kind: 'tenant', tenant, displayName: tenant, status: 'active', shards: 1, locale: 'en', createdAt: at },
    { kind: 'data_key', ...createWrappedKey(KeyEncryptionKey.fromBase64(secrets.kek), tenant, 'data', 1), state: 'active' },
    { kind: 'api_key', keyId: key.keyId, tenant, secretHash: key.secretHash, scopes: ['read'], createdAt: at },
  ];
  await publisher.publish(ControlRecordMessage, records.map((r) => ({ key: controlKey(r), value: r })));
  await publisher.disconnect();
  return key.secret;
}

const percentile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

async function time(name: string, url: string, key: string, iterations: number, check: (body: unknown) => void) {
  const ms: number[] = [];
  let bytes = 0;
  for (let i = 0; i < iterations + 3; i++) {
    const t = performance.now();
    const res = await fetch(url, { headers: { authorization: `Bearer ${key}` } });
    const text = await res.text();
    const took = performance.now() - t;
    if (res.status !== 200) throw new Error(`${name}: ${res.status} ${text.slice(0, 300)}`);
    if (i === 0) check(JSON.parse(text));
    bytes = text.length;
    if (i >= 3) ms.push(took); // the first three warm the JIT and PostgreSQL's cache
  }
  ms.sort((a, b) => a - b);
  const r = { iterations, p50Ms: +percentile(ms, 0.5).toFixed(1), p99Ms: +percentile(ms, 0.99).toFixed(1), maxMs: +ms[ms.length - 1].toFixed(1), responseBytes: bytes };
  log(`${name}: ${JSON.stringify(r)}`);
  return r;
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    server?.kill('SIGKILL');
    process.exit(130);
  });
}

async function main() {
  const end = Math.floor((Date.now() - 2 * MINUTE) / MINUTE) * MINUTE;
  const start = end - DAY;
  log(`seeding ${SERIES} series × 24 h of 1 min windows…`);
  const rows = seed(end);
  log(`${rows} rows; starting the query API on ${PORT}…`);
  const key = await makeTenant();
  await startServer();
  const base = `http://127.0.0.1:${PORT}`;
  await expectEventually(async () => {
    const res = await fetch(`${base}/v1/query/series?match=${metric}`, { headers: { authorization: `Bearer ${key}` } });
    if (res.status !== 200) throw new Error(`key not known yet: ${res.status}`);
  });
  const points = DAY / MINUTE;
  const v1 = await time('v1 range 24h@1m', `${base}/v1/query/range?${new URLSearchParams({ query: metric, start: String(start), end: String(end), step: '1m' })}`, key, ITERATIONS, (b) => {
    const body = b as { series: { points: unknown[] }[] };
    if (body.series.length !== SERIES || body.series.some((s) => s.points.length !== points)) throw new Error('v1 answer incomplete');
  });
  const prom = (query: string) => `${base}/prometheus/api/v1/query_range?${new URLSearchParams({ query, start: String(start / 1000), end: String(end / 1000), step: '60' })}`;
  const checkMatrix = (b: unknown) => {
    const body = b as { data: { result: { values: unknown[] }[] } };
    if (body.data.result.length !== SERIES || body.data.result.some((s) => s.values.length !== points + 1)) throw new Error('prometheus answer incomplete');
  };
  const avg = await time('prometheus avg_over_time[1m] 24h@60s', prom(`avg_over_time(${metric}[1m])`), key, ITERATIONS, checkMatrix);
  const quantile = await time('prometheus quantile_over_time(0.95)[5m] 24h@60s', prom(`quantile_over_time(0.95, ${metric}[5m])`), key, Math.max(3, Math.round(ITERATIONS / 10)), () => undefined);
  process.stdout.write(
    `${JSON.stringify(
      {
        machine: { cpus: cpus().length, loadavg: loadavg().map((l) => +l.toFixed(2)) },
        data: { series: SERIES, rows, resolution: '1m', range: '24h', pointsPerSeries: points },
        v1Range24hAt1m: v1,
        prometheusAvgOverTime1m: avg,
        prometheusQuantileOverTime5m: quantile,
      },
      null,
      2,
    )}\n`,
  );
}

main()
  .catch((err) => {
    process.stderr.write(`bench:query failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  })
  .finally(async () => {
    await stopServer().catch(() => undefined);
    await pool.query('delete from analytics.windows_1m where tenant = $1', [tenant]).catch(() => undefined);
    await pool.end();
  });
