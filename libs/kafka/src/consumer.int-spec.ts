/**
 * RecordPublisher + RecordConsumer against the real broker: retries never skip, permanent failures
 * reach the DLQ with their reason, a graceful stop commits exactly what was handled, a commit gate
 * holds offsets back, and the lag metric reaches zero. Each run uses its own throwaway topic.
 */
import { gunzipSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { Registry } from 'prom-client';
import { z } from 'zod';
import { defineMessage, DlqRecordSchema, Headers, Topics } from '@headroom/contracts';
import { createWrappedKey, KeyEncryptionKey, TenantKeyring } from '@headroom/crypto';
import { ensureTopics } from './admin';
import { createKafkaClient } from './client';
import { RecordConsumer, type ConsumedRecord } from './consumer';
import { PermanentError } from './errors';
import { createKafkaMetrics } from './metrics';
import { RecordPublisher } from './publisher';
import { readRawRecords } from './raw-records';

const brokers = (process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(',');
const run = randomBytes(4).toString('hex');
const topic = { name: `headroom.it-consumer-${run}.v1`, partitions: 2, maxMessageBytes: 1048576, config: {}, description: 'consumer.int-spec' };
const Probe = defineMessage({ name: `probe-${run}`, version: 1, topic, schema: z.object({ n: z.number().int() }), tenantScoped: true });
const tenants = [`it-a-${run}`, `it-b-${run}`];

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };
const kafka = createKafkaClient({ brokers, clientId: 'consumer-int-spec', logger: quiet });
const kek = KeyEncryptionKey.generate();
const keyring = new TenantKeyring(kek);
for (const t of tenants) keyring.add(createWrappedKey(kek, t, 'data', 1));
const publisher = new RecordPublisher(kafka, keyring);

function consumer(groupId: string, handle: (r: ConsumedRecord) => Promise<void>, extra: { commitGate?: (t: string, p: number, next: string) => string; metrics?: ReturnType<typeof createKafkaMetrics> } = {}) {
  return new RecordConsumer(kafka, { service: 'it', groupId, contracts: [Probe], handle, keyring, dlq: publisher, logger: quiet, maxBackoffMs: 200, ...extra });
}

async function waitFor(check: () => boolean, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const publishRange = (tenant: string, from: number, to: number) =>
  publisher.publish(
    Probe,
    Array.from({ length: to - from }, (_, i) => ({ tenant, value: { n: from + i } })),
  );

beforeAll(async () => {
  await ensureTopics(brokers, [topic]);
  await publisher.connect();
});

afterAll(async () => {
  await publisher.disconnect();
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [topic.name] }).catch(() => undefined);
  await admin.disconnect();
});

describe('RecordConsumer on a real broker', () => {
  it('retries a failing handler until it succeeds, in order, skipping nothing', async () => {
    const [a] = tenants;
    await publishRange(a, 0, 20);
    const seen: number[] = [];
    let failures = 0;
    const c = consumer(`it-retry-${run}`, async (r) => {
      if (r.tenant !== a) return;
      const n = (r.value as { n: number }).n;
      if (n === 7 && failures < 3) {
        failures++;
        throw new Error('database briefly unavailable');
      }
      seen.push(n);
    });
    await c.start();
    await waitFor(() => seen.length >= 20);
    await c.stop();
    expect(failures).toBe(3);
    expect(seen).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it('sends a permanent failure to the DLQ with its reason and original headers, and goes on', async () => {
    const [, b] = tenants;
    await publishRange(b, 100, 103);
    const handled: number[] = [];
    const c = consumer(`it-dlq-${run}`, async (r) => {
      if (r.tenant !== b) return;
      const n = (r.value as { n: number }).n;
      if (n === 101) throw new PermanentError(`value ${n} can never be processed`, 'poison');
      handled.push(n);
    });
    await c.start();
    await waitFor(() => handled.length >= 2);
    await c.stop();
    expect(handled).toEqual([100, 102]);
    const dlq = await readRawRecords(kafka, Topics.dlq.name, {
      filter: (r) => r.value?.includes(topic.name) ?? false,
      until: (rs) => rs.some((r) => r.value?.toString().includes(`value 101 can never`)),
      timeoutMs: 30_000,
    });
    const entry = dlq
      .map((r) => DlqRecordSchema.parse(JSON.parse(r.value!.toString())))
      .find((d) => d.source.topic === topic.name && d.reason.includes('value 101'));
    expect(entry).toMatchObject({ code: 'poison', consumerGroup: `it-dlq-${run}`, source: { key: b, headers: { [Headers.tenant]: b, [Headers.schema]: Probe.id } } });
    // The original sealed bytes are kept, still decryptable by the tenant's key.
    const original = keyring.decrypt({ tenant: b, topic: topic.name, schema: Probe.id }, 1, Buffer.from(entry!.value!, 'base64'));
    expect(JSON.parse(gunzipSync(original).toString())).toEqual({ n: 101 });
  });

  it('resumes after a graceful stop exactly where it stopped: no record twice, none lost', async () => {
    const [a] = tenants;
    const group = `it-resume-${run}`;
    await publishRange(a, 1000, 1040);
    const first: number[] = [];
    const c1 = consumer(group, async (r) => {
      if (r.tenant === a && (r.value as { n: number }).n >= 1000) first.push((r.value as { n: number }).n);
    });
    await c1.start();
    await waitFor(() => first.length >= 10);
    await c1.stop();
    await publishRange(a, 1040, 1050);
    const second: number[] = [];
    const c2 = consumer(group, async (r) => {
      if (r.tenant === a && (r.value as { n: number }).n >= 1000) second.push((r.value as { n: number }).n);
    });
    await c2.start();
    await waitFor(() => first.length + second.length >= 50);
    await c2.stop();
    expect([...first, ...second]).toEqual(Array.from({ length: 50 }, (_, i) => 1000 + i));
  });

  it('never commits past what a commit gate holds back, so a restart replays from there', async () => {
    const [, b] = tenants;
    const group = `it-gate-${run}`;
    await publishRange(b, 2000, 2010);
    let heldFrom: string | undefined;
    const seen: number[] = [];
    const c1 = consumer(
      group,
      async (r) => {
        if (r.tenant !== b || (r.value as { n: number }).n < 2000) return;
        const n = (r.value as { n: number }).n;
        if (n === 2005) heldFrom = r.offset; // e.g. the first record of a window still open
        seen.push(n);
      },
      { commitGate: (_t, _p, next) => (heldFrom && BigInt(heldFrom) < BigInt(next) ? heldFrom : next) },
    );
    await c1.start();
    await waitFor(() => seen.length >= 10);
    await c1.stop();
    const replayed: number[] = [];
    const c2 = consumer(group, async (r) => {
      if (r.tenant === b && (r.value as { n: number }).n >= 2000) replayed.push((r.value as { n: number }).n);
    });
    await c2.start();
    await waitFor(() => replayed.length >= 5);
    await c2.stop();
    expect(replayed).toEqual([2005, 2006, 2007, 2008, 2009]);
  });

  it('tells the caller which partitions it owns after joining the group', async () => {
    const seen: { topic: string; partition: number }[][] = [];
    const c = new RecordConsumer(kafka, {
      service: 'it',
      groupId: `it-rebalance-${run}`,
      contracts: [Probe],
      handle: async () => undefined,
      keyring,
      dlq: publisher,
      logger: quiet,
      onRebalance: (assigned) => seen.push(assigned),
    });
    await c.start();
    await waitFor(() => seen.length > 0);
    await c.stop();
    expect(seen[0].filter((a) => a.topic === topic.name).map((a) => a.partition).sort()).toEqual([0, 1]);
  });

  it('exports consumer lag, which reaches zero once caught up, and counts handled records', async () => {
    const [a] = tenants;
    const registry = new Registry();
    const metrics = createKafkaMetrics(registry);
    await publishRange(a, 3000, 3030);
    let count = 0;
    const c = consumer(`it-lag-${run}`, async () => void count++, { metrics });
    await c.start();
    await waitFor(() => count >= 30 + 20 + 3 + 50 + 10);
    const lag = await metrics.lag.get();
    await c.stop();
    expect(lag.values.length).toBeGreaterThan(0);
    expect(lag.values.every((v) => v.value === 0)).toBe(true);
    const consumed = await metrics.consumed.get();
    expect(consumed.values.find((v) => v.labels.outcome === 'handled')?.value).toBe(count);
  });
});
