/**
 * Ingest end to end, printed as JSON: control and collectors as processes on the real broker, one
 * tenant with limits far above the load, the same 1,000-point batches as HTTP JSON (~170 KB), OTLP/JSON
 * gauges and Prometheus remote_write (snappy protobuf), posted over keep-alive connections at
 * increasing concurrency (BENCH_WAYS picks the ways in); each step reports
 * sustained points/s, ack (202) latency p50/p99 and error counts. In the same run, the physical
 * limit: records of the same size produced to a topic configured as the telemetry topic by `kcat`
 * (librdkafka, Debian's package, installed if missing) — and the ratio between the two.
 *
 *   npm run bench:ingest                       # default steps
 *   BENCH_SECONDS=5 BENCH_STEPS=1,4,16 npm run bench:ingest
 *   BENCH_PROFILE=1 npm run bench:ingest       # collectors writes a .cpuprofile to tmp/prof
 *
 * The load generator runs in this process (Node, keep-alive); on 2 cores it competes with
 * collectors and the broker, as a co-located client would.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { TelemetryBatchMessage, Topics } from '@headroom/contracts';
import { KeyEncryptionKey, TenantKeyring, createWrappedKey } from '@headroom/crypto';
import { encodeRecord, ensureTopics } from '@headroom/kafka';
import { Writer } from 'protobufjs';
import * as snappy from 'snappy';
import { ControlClient, localSecrets, ROOT, serviceEnv, ServiceProcess } from '@headroom/testing';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 8);
const STEPS = (process.env['BENCH_STEPS'] ?? '1,2,4,8,16,32').split(',').map(Number);
const WAYS = (process.env['BENCH_WAYS'] ?? 'http_json,otlp_json,remote_write').split(',');
const BATCH = 1_000;
const CONTROL_PORT = 5350;
const COLLECTORS_PORT = 5310;

function body(seed: number, now: number): Buffer {
  const routes = ['/play', '/search', '/login', '/playlist/add', '/recommendations'];
  const regions = ['eu-west-1', 'us-east-1', 'ap-south-1'];
  const points = Array.from({ length: BATCH }, (_, i) => {
    const k = seed * BATCH + i;
    const labels: Record<string, string> = { route: routes[k % 5], region: regions[k % 3], status: String(200 + (k % 4)), instance: `api-${k % 17}` };
    return { name: k % 2 ? 'api_latency_ms' : 'http_requests_total', labels, value: (k % 997) * 0.37, timestamp: now - (k % 5_000), unit: 'ms' };
  });
  return Buffer.from(JSON.stringify({ points }));
}

/** A way in: its path, request headers, the status it answers on success, and bodies of BATCH points. */
interface WayIn {
  name: 'http_json' | 'otlp_json' | 'remote_write';
  path: string;
  headers: Record<string, string>;
  ok: number;
  bodies: Buffer[];
}

type Point = { name: string; labels: Record<string, string>; value: number; timestamp: number };
const pointsOf = (b: Buffer) => (JSON.parse(b.toString()) as { points: Point[] }).points;

/** The same points as OTLP/JSON gauges, one metric per point name. */
function otlpJson(points: Point[]): Buffer {
  const byName = new Map<string, Point[]>();
  for (const p of points) (byName.get(p.name) ?? byName.set(p.name, []).get(p.name)!).push(p);
  const metrics = [...byName].map(([name, ps]) => ({
    name,
    gauge: {
      dataPoints: ps.map((p) => ({
        attributes: Object.entries(p.labels).map(([key, value]) => ({ key, value: { stringValue: value } })),
        timeUnixNano: `${p.timestamp}000000`,
        asDouble: p.value,
      })),
    },
  }));
  return Buffer.from(JSON.stringify({ resourceMetrics: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'bench' } }] }, scopeMetrics: [{ scope: { name: 'bench' }, metrics }] }] }));
}

/** The same points as a Prometheus remote_write 1.0 request: WriteRequest protobuf, snappy block format. */
function remoteWrite(points: Point[]): Buffer {
  const w = Writer.create();
  for (const p of points) {
    const ts = Writer.create();
    for (const [name, value] of [['__name__', p.name], ...Object.entries(p.labels).sort(([a], [b]) => (a < b ? -1 : 1))]) {
      ts.uint32((1 << 3) | 2).fork().uint32((1 << 3) | 2).string(name).uint32((2 << 3) | 2).string(value).ldelim();
    }
    ts.uint32((2 << 3) | 2).fork().uint32((1 << 3) | 1).double(p.value).uint32(2 << 3).int64(p.timestamp).ldelim();
    const bytes = ts.finish();
    w.uint32((1 << 3) | 2).bytes(bytes);
  }
  return snappy.compressSync(Buffer.from(w.finish()));
}

function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

interface Step {
  connections: number;
  seconds: number;
  batches: number;
  pointsPerSecond: number;
  ackMs: { p50: number; p99: number; max: number };
  errors: Record<string, number>;
}

async function load(key: string, connections: number, seconds: number, way: WayIn): Promise<Step> {
  const bodies = way.bodies;
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  let ok = 0;
  const deadline = Date.now() + seconds * 1000;
  const started = process.hrtime.bigint();
  const one = (b: Buffer) =>
    new Promise<void>((resolve) => {
      const t0 = process.hrtime.bigint();
      const req = request(
        { agent, host: '127.0.0.1', port: COLLECTORS_PORT, path: way.path, method: 'POST', headers: { authorization: `Bearer ${key}`, ...way.headers, 'content-length': b.length } },
        (res) => {
          res.resume();
          res.on('end', () => {
            const ms = Number(process.hrtime.bigint() - t0) / 1e6;
            if (res.statusCode === way.ok) {
              ok++;
              latencies.push(ms);
            } else errors[String(res.statusCode)] = (errors[String(res.statusCode)] ?? 0) + 1;
            resolve();
          });
        },
      );
      req.on('error', (err) => {
        errors[err.message] = (errors[err.message] ?? 0) + 1;
        resolve();
      });
      req.end(b);
    });
  let n = 0;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (Date.now() < deadline) await one(bodies[n++ % bodies.length]);
    }),
  );
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 10) / 10;
  return {
    connections,
    seconds: r(elapsed),
    batches: ok,
    pointsPerSecond: Math.round((ok * BATCH) / elapsed),
    ackMs: { p50: r(percentile(latencies, 0.5)), p99: r(percentile(latencies, 0.99)), max: r(latencies[latencies.length - 1] ?? NaN) },
    errors,
  };
}

/**
 * The baseline topic: the telemetry topic's partitions and configs under another name, so the raw
 * records (which no consumer could decode) never reach the services' consumers; short retention.
 */
const BASELINE_TOPIC = { ...Topics.telemetry, name: 'headroom.bench-baseline.v1', config: { ...Topics.telemetry.config, 'retention.ms': String(10 * 60_000) }, description: 'bench:ingest kcat baseline' };

/** kcat producing `count` records of the sealed size to a copy of the telemetry topic: the broker's limit here. */
function kcatBaseline(recordBytes: number, count: number, brokers: string): { records: number; recordBytes: number; seconds: number; recordsPerSecond: number; pointsPerSecondEquivalent: number } | { error: string } {
  if (spawnSync('sh', ['-c', 'command -v kcat']).status !== 0) {
    const apt = spawnSync('sh', ['-c', 'apt-get install -y -q kcat >/dev/null 2>&1 || (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q kcat >/dev/null 2>&1)']);
    if (apt.status !== 0) return { error: 'kcat is not installed and apt-get could not install it' };
  }
  // One record per line, random bytes (sealed payloads do not compress), base64 so no newline inside.
  const line = randomBytes(Math.floor((recordBytes * 3) / 4)).toString('base64');
  const dir = join(ROOT, 'tmp', 'bench');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'kcat-records.txt');
  writeFileSync(file, `${Array.from({ length: count }, () => line).join('\n')}\n`);
  const t0 = process.hrtime.bigint();
  const res = spawnSync('kcat', ['-P', '-b', brokers, '-t', BASELINE_TOPIC.name, '-k', 'bench-kcat', '-X', 'acks=all', '-X', 'enable.idempotence=true', '-X', 'linger.ms=5', '-X', `message.max.bytes=${8 * 1024 * 1024}`, '-l', file], { encoding: 'utf8' });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (res.status !== 0) return { error: `kcat exited ${res.status}: ${res.stderr.slice(0, 300)}` };
  return { records: count, recordBytes: line.length, seconds: Math.round(seconds * 100) / 100, recordsPerSecond: Math.round(count / seconds), pointsPerSecondEquivalent: Math.round((count / seconds) * BATCH) };
}

async function main(): Promise<void> {
  const secrets = localSecrets();
  const slackApiUrl = 'http://127.0.0.1:1/api/';
  const control = new ServiceProcess('control', CONTROL_PORT, serviceEnv('control', secrets, { slackApiUrl }), 'bench-control');
  const collectorsEnv = serviceEnv('collectors', secrets, { slackApiUrl, logLevel: 'warn' });
  const collectors = new ServiceProcess('collectors', COLLECTORS_PORT, collectorsEnv, 'bench-collectors');
  if (process.env['BENCH_PROFILE']) {
    mkdirSync(join(ROOT, 'tmp', 'prof'), { recursive: true });
    collectors.nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${join(ROOT, 'tmp', 'prof')}`);
  }
  const tenant = `bench-${randomBytes(3).toString('hex')}`;
  try {
    await control.start();
    await collectors.start();
    const admin = new ControlClient(control.url, secrets.adminToken);
    await admin.createTenant({ id: tenant, displayName: tenant, locale: 'en', limits: { ratePerSecond: 10_000_000, burst: 20_000_000, maxActiveSeries: 1_000_000 } });
    const key = await admin.createApiKey(tenant, ['ingest']);
    const now = Date.now();
    const bodies = Array.from({ length: 16 }, (_, i) => body(i, now));
    const ways: WayIn[] = [
      { name: 'http_json', path: '/v1/ingest/metrics', headers: { 'content-type': 'application/json' }, ok: 202, bodies },
      { name: 'otlp_json', path: '/v1/metrics', headers: { 'content-type': 'application/json' }, ok: 200, bodies: bodies.map((b) => otlpJson(pointsOf(b))) },
      {
        name: 'remote_write',
        path: '/api/v1/push',
        headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy', 'x-prometheus-remote-write-version': '0.1.0' },
        ok: 204,
        bodies: bodies.map((b) => remoteWrite(pointsOf(b))),
      },
    ].filter((w) => WAYS.includes(w.name)) as WayIn[];
    // Wait until collectors knows the key (control topic).
    for (let i = 0; i < 100; i++) {
      const probe = await load(key, 1, 0.2, { ...ways[0], bodies: ways[0].bodies.slice(0, 1) });
      if (probe.batches > 0) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const byWay: Record<string, { bodyBytes: number; steps: Step[]; best: Pick<Step, 'connections' | 'pointsPerSecond' | 'ackMs'> }> = {};
    for (const way of ways) {
      const steps: Step[] = [];
      for (const c of STEPS) {
        const s = await load(key, c, SECONDS, way);
        steps.push(s);
        process.stderr.write(`${JSON.stringify({ way: way.name, ...s })}\n`);
      }
      const top = steps.reduce((a, b) => (b.pointsPerSecond > a.pointsPerSecond ? b : a));
      byWay[way.name] = { bodyBytes: way.bodies[0].length, steps, best: { connections: top.connections, pointsPerSecond: top.pointsPerSecond, ackMs: top.ackMs } };
    }
    const best = Object.values(byWay).reduce((a, b) => (b.best.pointsPerSecond > a.best.pointsPerSecond ? b : a)).best;

    // The same record bytes as collectors produces: one 1,000-point batch, sealed.
    const kek = KeyEncryptionKey.fromBase64(secrets.kek, 'kek-1');
    const keyring = new TenantKeyring(kek);
    keyring.add(createWrappedKey(kek, 'bench-kcat', 'data', 1));
    const sample = JSON.parse(bodies[0].toString()) as { points: unknown[] };
    const sealed = encodeRecord(TelemetryBatchMessage, { batchId: randomBytes(8).toString('hex'), source: 'http', receivedAt: now, points: sample.points, events: [] }, { key: 'bench-kcat', tenant: 'bench-kcat', keyring });
    const brokers = (process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(',')[0];
    await ensureTopics([brokers], [BASELINE_TOPIC]);
    const kcat = kcatBaseline(sealed.value!.length, 30_000, brokers);
    const result = {
      bench: 'ingest',
      batchPoints: BATCH,
      bodyBytes: bodies[0].length,
      sealedRecordBytes: sealed.value!.length,
      ways: byWay,
      kcat,
      /** The fastest way in, against kcat producing the same record bytes. */
      ratioToKcat: 'pointsPerSecondEquivalent' in kcat ? Math.round((best.pointsPerSecond / kcat.pointsPerSecondEquivalent) * 1000) / 1000 : null,
      targets: { httpPointsPerSecond: 500_000, ackP99MsAt80Percent: 25, ratioToKcat: 0.5 },
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await collectors.stop();
    await control.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
