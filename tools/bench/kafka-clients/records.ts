/**
 * The record bytes every client (and kcat) produces: real sealed 1,000-point telemetry batches, built
 * as collectors builds them (JSON points, gzip, then sealed with a tenant data key), and ~100 KB
 * records of random bytes (the size a batch had when it was sealed before compression) carrying
 * the same headers. Keys `tenant-N` spread the records over the topic's partitions.
 */
import { randomBytes } from 'node:crypto';
import { TelemetryBatchMessage, type MetricPoint } from '@headroom/contracts';
import { createWrappedKey, KeyEncryptionKey, TenantKeyring } from '@headroom/crypto';
import { encodeRecord } from '@headroom/kafka';

export interface BenchRecord {
  readonly key: string;
  readonly value: Buffer;
  readonly headers: Readonly<Record<string, string>>;
  /** key + value + header names and values: what the broker stores for it, framing aside. */
  readonly bytes: number;
}

export interface RecordSet {
  readonly name: string;
  /** Value bytes of one record (all records of a set have the same size). */
  readonly valueBytes: number;
  readonly records: readonly BenchRecord[];
}

const BATCH = 1_000;
const TENANTS = 64;
const routes = ['/play', '/search', '/login', '/playlist/add', '/recommendations'];
const regions = ['eu-west-1', 'us-east-1', 'ap-south-1'];

/** The points of one HTTP batch of `tools/bench/ingest.bench.ts` (4 labels, two metric names). */
function points(seed: number, now: number): MetricPoint[] {
  return Array.from({ length: BATCH }, (_, i) => {
    const k = seed * BATCH + i;
    const labels = { route: routes[k % 5], region: regions[k % 3], status: String(200 + (k % 4)), instance: `api-${k % 17}` };
    return { name: k % 2 ? 'api_latency_ms' : 'http_requests_total', labels, value: (k % 997) * 0.37, timestamp: now - (k % 5_000), unit: 'ms' };
  });
}

function benchRecord(key: string, value: Buffer, headers: Record<string, string>): BenchRecord {
  let bytes = Buffer.byteLength(key) + value.length;
  for (const [name, v] of Object.entries(headers)) bytes += Buffer.byteLength(name) + Buffer.byteLength(v);
  return { key, value, headers, bytes };
}

/** 64 distinct sealed batches and as many 100 KB random records, keyed tenant-0..tenant-63. */
export function buildRecordSets(kekBase64: string, largeBytes = 100 * 1024): RecordSet[] {
  const count = TENANTS;
  const kek = KeyEncryptionKey.fromBase64(kekBase64, 'kek-1');
  const keyring = new TenantKeyring(kek);
  const tenant = 'bench-kafka-clients';
  keyring.add(createWrappedKey(kek, tenant, 'data', 1));
  const now = Date.now();
  const sealed = Array.from({ length: count }, (_, i) => {
    const enc = encodeRecord(
      TelemetryBatchMessage,
      { batchId: randomBytes(8).toString('hex'), source: 'http', receivedAt: now, points: points(i, now), events: [] },
      { key: tenant, tenant, keyring },
    );
    return benchRecord(`tenant-${i}`, enc.value!, { ...enc.headers });
  });
  const headers = sealed[0].headers;
  const large = Array.from({ length: count }, (_, i) => benchRecord(`tenant-${i}`, randomBytes(largeBytes), { ...headers }));
  return [
    { name: 'sealed1000', valueBytes: Math.round(sealed.reduce((n, r) => n + r.value.length, 0) / count), records: sealed },
    { name: 'random100k', valueBytes: largeBytes, records: large },
  ];
}

/** The i-th record to send: one per tenant key, cycled. */
export function recordAt(set: RecordSet, i: number): BenchRecord {
  return set.records[i % set.records.length];
}
