/**
 * The Kafka layer's tenant-isolation primitives against the real broker: records up to the topic's
 * 8 MiB limit are produced and consumed, a record too large is split or refused, a handler that
 * always fails is bounded (DLQ, then the next tenant's record), and pause holds across a rebalance.
 * Each run uses its own throwaway topics and groups.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { defineMessage, DlqRecordSchema, Topics, type DlqRecord, type TopicSpec } from '@headroom/contracts';
import { createWrappedKey, KeyEncryptionKey, TenantKeyring } from '@headroom/crypto';
import { describeTopics, ensureTopics } from './admin';
import { createKafkaClient } from './client';
import { RecordConsumer, type ConsumedRecord, type RecordConsumerOptions, type StuckPartition } from './consumer';
import { PermanentError, RecordTooLargeError } from './errors';
import { RecordPublisher, splitArrayField } from './publisher';
import { readRawRecords } from './raw-records';

const brokers = (process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(',');
const run = randomBytes(4).toString('hex');
const MiB = 1024 * 1024;
const large: TopicSpec = {
  name: `headroom.it-large-${run}.v1`,
  partitions: 1,
  maxMessageBytes: 8 * MiB,
  config: { 'max.message.bytes': String(8 * MiB) },
  description: 'consumer-isolation.int-spec: 8 MiB records',
};
const shared: TopicSpec = { name: `headroom.it-shared-${run}.v1`, partitions: 1, maxMessageBytes: MiB, config: {}, description: 'one partition, two tenants' };
const paused: TopicSpec = { name: `headroom.it-paused-${run}.v1`, partitions: 4, maxMessageBytes: MiB, config: {}, description: 'pause across a rebalance' };
const Blob = defineMessage({ name: `blob-${run}`, version: 1, topic: large, schema: z.object({ parts: z.array(z.string()).min(1) }), tenantScoped: true });
const Probe = defineMessage({ name: `probe-${run}`, version: 1, topic: shared, schema: z.object({ n: z.number().int() }), tenantScoped: true });
const Tick = defineMessage({ name: `tick-${run}`, version: 1, topic: paused, schema: z.object({ n: z.number().int() }), tenantScoped: true });
const tenants = [`it-a-${run}`, `it-b-${run}`, `it-c-${run}`, `it-d-${run}`];
const [a, b] = tenants;

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };
const kafka = createKafkaClient({ brokers, clientId: 'isolation-int-spec', logger: quiet });
const kek = KeyEncryptionKey.generate();
const keyring = new TenantKeyring(kek);
for (const t of tenants) keyring.add(createWrappedKey(kek, t, 'data', 1));
const publisher = new RecordPublisher(kafka, keyring);
const running: RecordConsumer[] = [];

function consumer(opts: Pick<RecordConsumerOptions, 'groupId' | 'contracts' | 'handle'> & Partial<RecordConsumerOptions>): RecordConsumer {
  const c = new RecordConsumer(kafka, { service: 'it', keyring, dlq: publisher, logger: quiet, maxBackoffMs: 100, ...opts });
  running.push(c);
  return c;
}

async function waitFor(check: () => boolean, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Incompressible text, as sealed tenant data is. */
const noise = (bytes: number) => randomBytes(Math.ceil((bytes * 3) / 4)).toString('base64').slice(0, bytes);

async function dlqEntries(where: (d: DlqRecord) => boolean): Promise<DlqRecord[]> {
  const parse = (v: Buffer | null) => (v ? DlqRecordSchema.parse(JSON.parse(v.toString())) : undefined);
  const raw = await readRawRecords(kafka, Topics.dlq.name, { filter: (r) => r.value?.includes(run) ?? false, until: (rs) => rs.some((r) => where(parse(r.value)!)), timeoutMs: 30_000 });
  return raw.map((r) => parse(r.value)).filter((d): d is DlqRecord => d !== undefined && where(d));
}

beforeAll(async () => {
  await ensureTopics(brokers, [large, shared, paused, Topics.dlq]);
  await publisher.connect();
});

afterAll(async () => {
  await Promise.allSettled(running.map((c) => c.stop()));
  await publisher.disconnect();
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [large.name, shared.name, paused.name] }).catch(() => undefined);
  await admin.disconnect();
});

describe('records up to the topic limit', () => {
  it('creates the topic with its max.message.bytes', async () => {
    const [described] = await describeTopics(brokers, [large.name]);
    expect(described?.config['max.message.bytes']).toBe(String(8 * MiB));
  });

  it('produces and consumes a multi-MiB sealed record; the DLQ keeps its place, not its bytes', async () => {
    // Base64 noise gzips to ~76% before sealing: 7 MiB of it is a record of ~5.3 MiB.
    const blob = noise(7 * MiB);
    await publisher.publish(Blob, [{ tenant: a, value: { parts: [blob] } }]);
    const seen: string[] = [];
    const c = consumer({
      groupId: `it-large-${run}`,
      contracts: [Blob],
      handle: async (r) => {
        seen.push((r.value as { parts: string[] }).parts[0]);
        throw new PermanentError(`cannot use blob-${run}`, 'poison');
      },
    });
    await c.start();
    await waitFor(() => seen.length >= 1);
    expect(seen[0] === blob).toBe(true);
    const [entry] = await dlqEntries((d) => d.source.topic === large.name);
    expect(entry).toMatchObject({ code: 'poison', value: null, source: { topic: large.name, partition: 0, offset: '0', key: a } });
    expect(entry.valueBytes).toBeGreaterThan(5 * MiB);
    expect(entry.reason).toContain(`the original value (${entry.valueBytes} bytes) was too large to keep here`);
    await c.stop();
  });

  it('splits a 20 MiB record into parts that the broker accepts, and refuses it without a splitter', async () => {
    const parts = Array.from({ length: 40 }, (_, i) => `${i}:${noise(512 * 1024)}`);
    await expect(publisher.publish(Blob, [{ tenant: b, value: { parts } }])).rejects.toThrow(RecordTooLargeError);
    await publisher.publish(Blob, [{ tenant: b, value: { parts } }], { split: splitArrayField('parts') });
    const received: string[][] = [];
    const c = consumer({
      groupId: `it-split-${run}`,
      contracts: [Blob],
      handle: async (r) => {
        if (r.tenant === b) received.push((r.value as { parts: string[] }).parts);
      },
    });
    await c.start();
    await waitFor(() => received.flat().length >= 40);
    await c.stop();
    // ~15 MiB once gzipped before sealing: at least two records under the 8 MiB limit.
    expect(received.length).toBeGreaterThanOrEqual(2);
    expect(received.flat().map((p) => p.split(':')[0])).toEqual(parts.map((p) => p.split(':')[0]));
  });
});

describe('a handler that never succeeds', () => {
  it('is tried maxHandlerAttempts times, then its record goes to the DLQ and the next tenant is handled', async () => {
    await publisher.publish(Probe, [
      { tenant: a, value: { n: 1 } },
      { tenant: b, value: { n: 2 } },
    ]);
    let attempts = 0;
    const handled: string[] = [];
    const stuck: StuckPartition[][] = [];
    const c = consumer({
      groupId: `it-exhausted-${run}`,
      contracts: [Probe],
      maxHandlerAttempts: 4,
      handle: async (r: ConsumedRecord) => {
        if (r.tenant === a) {
          attempts++;
          stuck.push(c.stuckPartitions());
          throw new Error(`tenant ${a} breaks the handler`);
        }
        handled.push(r.tenant!);
      },
    });
    await c.start();
    await waitFor(() => handled.length >= 1);
    expect(attempts).toBe(4);
    expect(handled).toEqual([b]);
    expect(stuck.at(-1)).toEqual([{ topic: shared.name, partition: 0, offset: '0', since: expect.any(Number), attempts: 3 }]);
    expect(c.stuckPartitions()).toEqual([]);
    await waitFor(() => c.caughtUp(), 10_000);
    await c.stop();
    const [entry] = await dlqEntries((d) => d.source.topic === shared.name);
    expect(entry).toMatchObject({ code: 'handler_exhausted', consumerGroup: `it-exhausted-${run}`, source: { key: a, offset: '0' } });
    expect(entry.reason).toContain(`tenant ${a} breaks the handler`);
  });
});

describe('pause and resume', () => {
  it('stays paused through a rebalance, and is not caught up while paused', async () => {
    const group = `it-pause-${run}`;
    const first: number[] = [];
    const second: number[] = [];
    const joins: number[][] = [];
    const c1 = consumer({ groupId: group, contracts: [Tick], handle: async (r) => void first.push((r.value as { n: number }).n), onRebalance: (as) => joins.push(as.map((x) => x.partition)) });
    await c1.start();
    await waitFor(() => joins.length >= 1 && c1.caughtUp(), 20_000);
    c1.pause();
    expect(c1.caughtUp()).toBe(false);
    await publisher.publish(
      Tick,
      tenants.map((tenant, n) => ({ tenant, value: { n } })),
    );
    // A second member joins (paused from the start) and leaves: c1 rejoins twice, paused throughout.
    const c2 = consumer({ groupId: group, contracts: [Tick], handle: async (r) => void second.push((r.value as { n: number }).n) });
    c2.pause();
    await c2.start();
    await waitFor(() => joins.length >= 2, 30_000);
    await sleep(1_000);
    // Paused in kafkajs, not only in our handler loop: no batch was even fetched.
    expect(c2.backlog()).toBe(0);
    await c2.stop();
    await waitFor(() => joins.length >= 3 && joins.at(-1)!.length === 4, 30_000);
    await sleep(2_000);
    expect(first).toEqual([]);
    expect(second).toEqual([]);
    expect(c1.isPaused()).toBe(true);
    expect(c1.backlog()).toBe(0);
    expect(c1.caughtUp()).toBe(false);
    c1.resume();
    await waitFor(() => first.length >= 4);
    expect([...first].sort()).toEqual([0, 1, 2, 3]);
    await waitFor(() => c1.caughtUp(), 10_000);
    await c1.stop();
  });
});
