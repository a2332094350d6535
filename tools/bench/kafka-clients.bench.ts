/**
 * Kafka clients for the ingest path, side by side on the local broker, printed as one JSON document:
 * kafkajs (libs/kafka's client), @platformatic/kafka and @confluentinc/kafka-javascript produce the
 * same record bytes (real sealed 1,000-point batches, and 100 KB records) to a 12-partition topic of
 * their own, created and deleted here, serially, with concurrent sends and with libs/kafka's group
 * commit; then kcat on the same bytes as the physical limit. See docs/benchmarks.md.
 *
 *   npm run bench:kafka-clients
 *   BENCH_CLIENTS=kafkajs,platformatic BENCH_SECONDS=5 npm run bench:kafka-clients
 *   BENCH_REINSTALL=1 npm run bench:kafka-clients     # measure the candidates' install time again
 *
 * The candidates are never project dependencies: they are installed on first use into
 * tmp/kafka-clients/<name>/ (exact versions below) and loaded from there.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { Topics, type TopicSpec } from '@headroom/contracts';
import { createKafkaClient, ensureTopics, recordByteLimit } from '@headroom/kafka';
import { localSecrets, ROOT } from '@headroom/testing';
import { confluentDriver, kafkajsDriver, platformaticDriver, type ClientDriver, type ConfluentModule } from './kafka-clients/drivers';
import { installCandidate, type Candidate } from './kafka-clients/install';
import { kcatProduce } from './kafka-clients/kcat';
import { measure, type Mode, type ModeResult } from './kafka-clients/measure';
import { buildRecordSets } from './kafka-clients/records';

const list = (name: string, fallback: string) => (process.env[name] ?? fallback).split(',').filter(Boolean);
const CLIENTS = list('BENCH_CLIENTS', 'kafkajs,platformatic,confluent');
const SETS = list('BENCH_SETS', 'sealed1000,random100k');
const MODES = list('BENCH_MODES', 'serial,concurrent,grouped') as Mode[];
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 10);
const WARMUP_SECONDS = Number(process.env['BENCH_WARMUP_SECONDS'] ?? 2);
const CONCURRENCY = Number(process.env['BENCH_CONCURRENCY'] ?? 32);
const LINGER_MS = Number(process.env['BENCH_LINGER_MS'] ?? 5);
const REINSTALL = process.env['BENCH_REINSTALL'] === '1';
const CACHE = join(ROOT, 'tmp', 'kafka-clients');

/** Exact versions measured. @platformatic/kafka 2.x needs Node 22; the Confluent client builds librdkafka from source (no prebuilt binary can be fetched here). */
const CANDIDATES: Record<string, Candidate> = {
  platformatic: { name: 'platformatic', pkg: '@platformatic/kafka', version: '1.35.0' },
  confluent: { name: 'confluent', pkg: '@confluentinc/kafka-javascript', version: '1.10.1', env: { CKJS_LINKING: 'dynamic' } },
};

const log = (o: object) => process.stderr.write(`${JSON.stringify(o)}\n`);

async function main(): Promise<void> {
  const brokers = (process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(',');
  const run = randomBytes(3).toString('hex');
  const topic: TopicSpec = {
    ...Topics.telemetry,
    name: `headroom.bench-kafka-clients.${run}`,
    config: { ...Topics.telemetry.config, 'retention.ms': String(10 * 60_000) },
    description: 'bench:kafka-clients, deleted at the end of the run',
  };
  const sets = buildRecordSets(localSecrets().kek).filter((s) => SETS.includes(s.name));
  const opts = { warmupSeconds: WARMUP_SECONDS, seconds: SECONDS, concurrency: CONCURRENCY, groupMaxBytes: recordByteLimit(topic) };
  const admin = createKafkaClient({ brokers, clientId: `bench-kafka-clients-admin-${run}`, logger: { info() {}, warn() {}, error() {}, debug() {} } }).admin();
  await admin.connect();
  await ensureTopics(brokers, [topic]);
  const clients: Record<string, object> = {};
  let kcat: Record<string, object> = {};
  const loadStart = loadavg()[0];
  try {
    for (const name of CLIENTS) {
      let version: string;
      let install: object;
      let open: () => Promise<ClientDriver>;
      try {
        if (name === 'kafkajs') {
          version = (JSON.parse(readFileSync(join(ROOT, 'node_modules', 'kafkajs', 'package.json'), 'utf8')) as { version: string }).version;
          install = { install_s: 0, note: 'project dependency (pure JS, in node_modules)' };
          open = () => kafkajsDriver(brokers, topic.name);
        } else {
          const c = CANDIDATES[name];
          if (!c) throw new Error(`unknown client ${name} (kafkajs, platformatic, confluent)`);
          const got = installCandidate(CACHE, c, REINSTALL);
          version = got.version;
          install = { install_s: got.install_s, cached: got.cached, installedAt: got.installedAt, ...(c.env ? { env: c.env } : {}) };
          open =
            name === 'platformatic'
              ? () => platformaticDriver(got.load(), brokers, topic.name)
              : () => confluentDriver(got.load<ConfluentModule>(), brokers, topic.name, LINGER_MS);
        }
      } catch (err) {
        clients[name] = { error: (err as Error).message.slice(0, 1000) };
        log({ client: name, error: (err as Error).message.slice(0, 300) });
        continue;
      }
      const before = await endOffsets(admin, topic.name);
      const bySet: Record<string, Record<string, ModeResult>> = {};
      let settings: object = {};
      for (const set of sets) {
        bySet[set.name] = {};
        for (const mode of MODES) {
          // A fresh producer per mode: one that a mode broke (idempotent sequence numbers out of
          // order, say) must not spoil the next mode's figures.
          const driver = await open();
          settings = driver.settings;
          try {
            const r = await measure(driver, mode, set, opts);
            bySet[set.name][mode] = r;
            log({ client: name, set: set.name, mode, ...r });
          } finally {
            await driver.close().catch(() => undefined);
          }
        }
      }
      const acked = Object.values(bySet).reduce((n, modes) => n + Object.values(modes).reduce((m, r) => m + r.ackedTotal, 0), 0);
      const landed = (await endOffsets(admin, topic.name)) - before;
      clients[name] = { version, ...install, settings, modes: bySet, acked, landedOnTopic: landed };
    }
    for (const set of sets) {
      const before = await endOffsets(admin, topic.name);
      const r = await kcatProduce(set, brokers[0], topic.name, SECONDS, LINGER_MS);
      // Every record kcat was handed is on the topic: its rate is not a rate of dropped records.
      const landed = (await endOffsets(admin, topic.name)) - before;
      kcat = { ...kcat, [set.name]: { ...r, landedOnTopic: landed } };
      log({ kcat: set.name, ...r, landed });
    }
  } finally {
    await admin.deleteTopics({ topics: [topic.name] }).catch((err: Error) => log({ deleteTopic: topic.name, error: err.message }));
    await admin.disconnect();
  }
  const result = {
    bench: 'kafka-clients',
    node: process.version,
    cpu: { model: cpus()[0]?.model, cores: cpus().length, loadAverage1m: { start: loadStart, end: loadavg()[0] } },
    broker: brokers.join(','),
    topic: { partitions: topic.partitions, config: 'as headroom.telemetry.v1', deleted: true },
    records: Object.fromEntries(sets.map((s) => [s.name, { valueBytes: s.valueBytes, recordBytes: Math.round(s.records.reduce((n, r) => n + r.bytes, 0) / s.records.length), keys: s.records.length }])),
    run: { warmupSeconds: WARMUP_SECONDS, seconds: SECONDS, concurrency: CONCURRENCY, lingerMs: LINGER_MS, groupMaxBytes: opts.groupMaxBytes },
    clients,
    kcat,
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}

async function endOffsets(admin: ReturnType<ReturnType<typeof createKafkaClient>['admin']>, topic: string): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((n, p) => n + Number(p.high), 0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
