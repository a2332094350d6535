/**
 * The publisher library on the real broker, printed as JSON: a fresh tenant put on the control topic
 * (keys wrapped under the local KEK), then `BENCH_CONCURRENCY` producers each recording calls of
 * `BENCH_CALL_POINTS` typical points (4 labels) as fast as back-pressure lets them, for
 * `BENCH_SECONDS`, then flush(). Reports points/s (durable: up to the last flush), batches, records
 * and bytes on the topic (read back and counted: key + value + headers), and the publisher's
 * settings. One line per `BENCH_BATCH_POINTS` value.
 *
 *   npm run bench:publisher
 *   BENCH_SECONDS=5 BENCH_BATCH_POINTS=500,2000,5000 BENCH_CONCURRENCY=4 npm run bench:publisher
 *
 * Load generator, validation, sealing and the broker share this machine's cores.
 */
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { ControlRecordMessage, controlKey, Headers, Topics, type ControlRecord, type MetricPoint } from '@headroom/contracts';
import { createWrappedKey, KeyEncryptionKey } from '@headroom/crypto';
import { createKafkaClient, readRawRecords, RecordPublisher } from '@headroom/kafka';
import { TelemetryPublisher } from '@headroom/publisher';
import { localSecrets, silentLogger, testInfra, controlTrust } from '@headroom/testing';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 8);
const BATCH_POINTS = (process.env['BENCH_BATCH_POINTS'] ?? '1000,5000').split(',').map(Number);
const CONCURRENCY = Number(process.env['BENCH_CONCURRENCY'] ?? 8);
const CALL_POINTS = Number(process.env['BENCH_CALL_POINTS'] ?? 100);
const LINGER_MS = Number(process.env['BENCH_LINGER_MS'] ?? 20);
const MAX_BUFFERED = Number(process.env['BENCH_MAX_BUFFERED'] ?? 50_000);

const routes = ['/play', '/search', '/login', '/playlist/add', '/recommendations'];
const regions = ['eu-west-1', 'us-east-1', 'ap-south-1'];

function call(seed: number, now: number): MetricPoint[] {
  return Array.from({ length: CALL_POINTS }, (_, i) => {
    const k = seed * CALL_POINTS + i;
    const labels = { route: routes[k % 5], region: regions[k % 3], status: String(200 + (k % 4)), instance: `api-${k % 17}` };
    return { name: k % 2 ? 'api_latency_ms' : 'http_requests_total', labels, value: (k % 997) * 0.37, timestamp: now - (k % 5_000), unit: 'ms' };
  });
}

async function main(): Promise<void> {
  const secrets = localSecrets();
  const kek = KeyEncryptionKey.fromBase64(secrets.kek);
  const { brokers } = testInfra();
  const run = randomBytes(3).toString('hex');
  const kafka = createKafkaClient({ brokers, clientId: `bench-publisher-${run}`, logger: silentLogger() });
  const control = new RecordPublisher(kafka, undefined, undefined, { signer: controlTrust().signer });
  await control.connect();
  const results: object[] = [];
  try {
    for (const maxBatchPoints of BATCH_POINTS) {
      const tenant = `bench-pub-${run}-${maxBatchPoints}`;
      const at = new Date().toISOString();
      const records: ControlRecord[] = [
        { kind: 'tenant', tenant, displayName: tenant, status: 'active', shards: 1, locale: 'en', createdAt: at, limits: { ratePerSecond: 10_000_000, burst: 100_000_000 } },
        { kind: 'data_key', ...createWrappedKey(kek, tenant, 'data', 1), state: 'active' },
        { kind: 'data_key', ...createWrappedKey(kek, tenant, 'pseudonym', 1), state: 'active' },
      ];
      await control.publish(ControlRecordMessage, records.map((r) => ({ key: controlKey(r), value: r })));

      const connectStart = Date.now();
      const publisher = await TelemetryPublisher.connect({
        brokers,
        kekBase64: secrets.kek,
  controlPublicKeys: secrets.controlPublicKey,
        kekId: 'kek-1',
        tenant,
        clientId: `bench-publisher-${run}`,
        logger: silentLogger(),
        maxBatchPoints,
        lingerMs: LINGER_MS,
        maxBufferedPoints: Math.max(MAX_BUFFERED, maxBatchPoints),
      });
      const connectMs = Date.now() - connectStart;
      const started = Date.now();
      const deadline = started + SECONDS * 1000;
      let seed = 0;
      let maxOutstanding = 0;
      const producer = async () => {
        while (Date.now() < deadline) {
          await publisher.record(call(seed++, Date.now()), [], { ack: 'buffered' });
          const s = publisher.stats();
          maxOutstanding = Math.max(maxOutstanding, s.bufferedPoints + s.inFlightPoints);
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, producer));
      await publisher.flush();
      const seconds = (Date.now() - started) / 1000;
      const stats = publisher.stats();
      await publisher.close();

      let bytes = 0;
      const onTopic = await readRawRecords(kafka, Topics.telemetry.name, {
        filter: (r) => {
          if (r.headers[Headers.tenant] !== tenant) return false;
          bytes += Buffer.byteLength(r.key ?? '') + (r.value?.length ?? 0);
          for (const [k, v] of Object.entries(r.headers)) bytes += Buffer.byteLength(k) + Buffer.byteLength(v);
          return true;
        },
        until: (rs) => rs.length >= stats.batchesSent,
        timeoutMs: 120_000,
      });
      const points = stats.pointsAcked;
      results.push({
        maxBatchPoints,
        lingerMs: LINGER_MS,
        maxBufferedPoints: Math.max(MAX_BUFFERED, maxBatchPoints),
        concurrency: CONCURRENCY,
        callPoints: CALL_POINTS,
        seconds: Number(seconds.toFixed(2)),
        points,
        pointsPerSecond: Math.round(points / seconds),
        batches: stats.batchesSent,
        failedBatches: stats.batchesFailed,
        recordsOnTopic: onTopic.length,
        bytes,
        bytesPerPoint: Number((bytes / Math.max(1, points)).toFixed(2)),
        maxOutstandingPoints: maxOutstanding,
        connectMs,
      });
      console.log(JSON.stringify(results[results.length - 1]));
    }
  } finally {
    await control.disconnect();
  }
  console.log(JSON.stringify({ bench: 'publisher', machine: `${cpus().length} cores`, results }, null, 2));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
