/**
 * The push sinks against real stores on this machine, printed as JSON. Starts its own
 * VictoriaMetrics and Prometheus (`--web.enable-remote-write-receiver`) on free loopback ports, then:
 *
 * 1. Throughput per sink (apps/exporters/src/sinks/sinks.bench.ts, its own process): windows written
 *    straight through each sink until acknowledged — remote_write → VictoriaMetrics, InfluxDB line
 *    protocol → VictoriaMetrics (`/api/v2/write`), remote_write → Prometheus 2.42. A point is a window
 *    (7 stored samples each).
 * 2. Published → visible: two exporters services (processes, as `npm start` runs them) on the real
 *    Kafka — one with remote_write → Prometheus and InfluxDB → VictoriaMetrics, one with remote_write
 *    → VictoriaMetrics — export a fresh window every `BENCH_LATENCY_INTERVAL_MS` for
 *    `BENCH_LATENCY_WINDOWS` windows; each store's own query API (PromQL `/api/v1/query`;
 *    VictoriaMetrics after `/internal/force_flush`) is polled every 20 ms until the window's sample is
 *    there. p50/p99 per sink, from the publish call to the poll that saw it.
 *
 *   npm run bench:exporters
 *   BENCH_WINDOWS=200000 BENCH_CONCURRENCY=8 npm run bench:exporters
 *
 * Load generator, stores, Kafka and the services share this machine's cores.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { AggregateBatchMessage, ControlRecordMessage, controlKey, Topics, type AggregateWindow, type ControlRecord } from '@headroom/contracts';
import { createWrappedKey, KeyEncryptionKey, TenantKeyring } from '@headroom/crypto';
import { createKafkaClient, ensureTopics, RecordPublisher } from '@headroom/kafka';
import { freePort, PrometheusProcess, ROOT, ServiceProcess, silentLogger, testInfra, uniqueId, VictoriaMetricsProcess, controlTrust } from '@headroom/testing';

const LATENCY_WINDOWS = Number(process.env['BENCH_LATENCY_WINDOWS'] ?? 60);
const LATENCY_INTERVAL_MS = Number(process.env['BENCH_LATENCY_INTERVAL_MS'] ?? 250);

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
type Store = VictoriaMetricsProcess | PrometheusProcess;

function window(name: string, lane: string, start: number, i: number, windowMs = 1000): AggregateWindow {
  return { series: { name, labels: { lane } }, seriesId: lane, windowStart: start, windowMs, count: i + 1, sum: i, min: 0, max: i, p50: 1, p95: 1, p99: 1 };
}

async function main(): Promise<void> {
  const vm = new VictoriaMetricsProcess('vm-bench');
  const prometheus = new PrometheusProcess('prometheus-bench');
  await Promise.all([vm.start(), prometheus.start()]);
  const services: ServiceProcess[] = [];
  const result: Record<string, unknown> = { bench: 'exporters', machine: `${cpus().length} cores` };
  try {
    const throughput = execFileSync(process.execPath, ['-r', '@swc-node/register', join(ROOT, 'apps/exporters/src/sinks/sinks.bench.ts')], {
      cwd: ROOT,
      env: { ...process.env, BENCH_VM_URL: vm.url, BENCH_PROMETHEUS_URL: prometheus.url },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    result['throughput'] = JSON.parse(throughput.trim().split('\n').pop()!);

    const infra = testInfra();
    const kekBase64 = randomBytes(32).toString('base64');
    const kek = KeyEncryptionKey.fromBase64(kekBase64, 'kek-1');
    const kafka = createKafkaClient({ brokers: infra.brokers, clientId: 'exporters-bench', logger: silentLogger() });
    const keyring = new TenantKeyring(kek);
    const publisher = new RecordPublisher(kafka, keyring, undefined, { signer: controlTrust().signer });
    await ensureTopics(infra.brokers, [Topics.control, Topics.aggregates, Topics.dlq]);
    await publisher.connect();
    const tenant = uniqueId('bench-exp');
    const key = createWrappedKey(kek, tenant, 'data', 1);
    keyring.add(key);
    const control: ControlRecord[] = [
      { kind: 'tenant', tenant, displayName: tenant, status: 'active', shards: 1, locale: 'en', createdAt: new Date().toISOString() },
      { kind: 'data_key', ...key, state: 'active' },
    ];
    await publisher.publish(ControlRecordMessage, control.map((value) => ({ key: controlKey(value), value })));

    // Each service's groups start at the topic's end: other runs' records are sealed under other KEKs.
    const admin = kafka.admin();
    await admin.connect();
    const start = async (name: string, env: Record<string, string>, sinks: string[]) => {
      const groupId = uniqueId(`exporters-bench-${name}`);
      for (const g of [groupId, ...sinks.map((s) => `${groupId}-${s}`)]) await admin.resetOffsets({ groupId: g, topic: Topics.aggregates.name, earliest: false });
      const service = new ServiceProcess('exporters', await freePort(), { HEADROOM_KEK: kekBase64, ...controlTrust().env, KAFKA_BROKERS: infra.brokers.join(','), DATABASE_URL: infra.databaseUrl, LOG_LEVEL: 'info', EXPORTERS_GROUP_ID: groupId, ...env }, `exporters-bench-${name}`);
      services.push(service);
      await service.start(90_000);
    };
    await start('pair', { EXPORT_REMOTE_WRITE_URL: `${prometheus.url}/api/v1/write`, EXPORT_INFLUXDB_URL: vm.url }, ['remote_write', 'influxdb']);
    await start('vm', { EXPORT_REMOTE_WRITE_URL: `${vm.url}/api/v1/write` }, ['remote_write']);
    await admin.disconnect();

    const m = `bench_lat_${Date.now().toString(36)}`;
    const visible = async (store: Store, selector: string, t: number) => (await store.query(`${m}_count{${selector}}[2m]`)).some((s) => s.samples.some(([ts]) => ts === t));
    const probes: [string, Store, string][] = [
      ['remoteWriteToPrometheus', prometheus, 'lane="%"'],
      ['remoteWriteToVictoriaMetrics', vm, 'lane="%",tenant!=""'],
      ['influxToVictoriaMetrics', vm, 'lane="%",tenant=""'],
    ];
    // The first record waits for the groups' first join: one warm-up window, seen by all three, first.
    const warm = Math.floor(Date.now() / 1000) * 1000 - 30_000;
    await publisher.publish(AggregateBatchMessage, [{ tenant, value: { windows: [window(m, 'warm', warm, 0)] } }]);
    for (let i = 0; i < 600; i++) {
      const seen = await Promise.all(probes.map(([, store, sel]) => visible(store, sel.replace('%', 'warm'), warm + 1000)));
      if (seen.every(Boolean)) break;
      await sleep(100);
    }

    const latencies: Record<string, number[]> = Object.fromEntries(probes.map(([sink]) => [sink, []]));
    for (let i = 0; i < LATENCY_WINDOWS; i++) {
      // A window that has just closed, as analytics would publish it.
      const published = Date.now();
      const w = window(m, 'measure', Math.floor(published / LATENCY_INTERVAL_MS) * LATENCY_INTERVAL_MS - LATENCY_INTERVAL_MS, i, LATENCY_INTERVAL_MS);
      await publisher.publish(AggregateBatchMessage, [{ tenant, value: { windows: [w] } }]);
      await Promise.all(
        probes.map(async ([sink, store, sel]) => {
          for (let k = 0; k < 1500; k++) {
            if (await visible(store, sel.replace('%', 'measure'), w.windowStart + w.windowMs)) return void latencies[sink].push(Date.now() - published);
            await sleep(20);
          }
        }),
      );
      await sleep(Math.max(0, published + LATENCY_INTERVAL_MS - Date.now()));
    }
    await publisher.disconnect();
    result['publishedToVisibleMs'] = Object.fromEntries(
      Object.entries(latencies).map(([sink, xs]) => {
        const sorted = [...xs].sort((a, b) => a - b);
        return [sink, { windows: xs.length, p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), max: sorted[sorted.length - 1] }];
      }),
    );
    result['settings'] = { LATENCY_WINDOWS, LATENCY_INTERVAL_MS, pollMs: 20 };
    result['targets'] = { pointsPerSecondPerSink: '≥ 100000', visibleP99Ms: '< 2000' };
  } finally {
    await Promise.all(services.map((s) => s.stop()));
    await Promise.all([vm.stop(), prometheus.stop()]);
  }
  console.log(JSON.stringify(result, null, 2));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
