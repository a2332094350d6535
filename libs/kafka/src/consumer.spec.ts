import { randomBytes } from 'node:crypto';
import type { EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import { Registry } from 'prom-client';
import { z } from 'zod';
import { defineMessage, DlqRecordSchema, type DlqRecord } from '@headroom/contracts';
import { createWrappedKey, KeyEncryptionKey, TenantKeyring } from '@headroom/crypto';
import { encodeRecord } from './codec';
import { dlqEntryThatFits, RecordConsumer, type ConsumedRecord, type RecordConsumerOptions, type StuckPartition } from './consumer';
import { PermanentError } from './errors';
import { createKafkaMetrics } from './metrics';
import type { RecordPublisher } from './publisher';

const topic = { name: 'headroom.consumer-spec.v1', partitions: 2, maxMessageBytes: 8 * 1024 * 1024, config: {}, description: 'consumer.spec' };
const Probe = defineMessage({ name: 'probe', version: 1, topic, schema: z.object({ n: z.number().int(), pad: z.string().optional() }), tenantScoped: true });
const kek = KeyEncryptionKey.generate();
const keyring = new TenantKeyring(kek);
for (const t of ['label-a', 'label-b']) keyring.add(createWrappedKey(kek, t, 'data', 1));
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };

function message(tenant: string, offset: number, value: { n: number; pad?: string }): KafkaMessage {
  const r = encodeRecord(Probe, value, { key: tenant, tenant, keyring });
  return {
    key: Buffer.from(r.key),
    value: r.value,
    headers: Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, Buffer.from(v)])),
    offset: String(offset),
    timestamp: String(Date.now()),
    attributes: 0,
    size: 0,
  } as unknown as KafkaMessage;
}

/** A kafkajs consumer that records what it is asked and lets the test deliver batches and events. */
function fakeKafka() {
  const listeners = new Map<string, ((e: { payload: unknown }) => void)[]>();
  const state = {
    running: false,
    eachBatch: undefined as undefined | ((p: EachBatchPayload) => Promise<void>),
    pauses: [] as string[][],
    resumes: [] as string[][],
    commits: [] as { topic: string; partition: number; offset: string }[][],
    config: {} as Record<string, unknown>,
  };
  const consumer = {
    events: { GROUP_JOIN: 'consumer.group_join', FETCH: 'consumer.fetch', FETCH_START: 'consumer.fetch_start' },
    on: (name: string, fn: (e: { payload: unknown }) => void) => listeners.set(name, [...(listeners.get(name) ?? []), fn]),
    connect: async () => undefined,
    subscribe: async () => undefined,
    run: async (cfg: { eachBatch: (p: EachBatchPayload) => Promise<void> }) => {
      state.eachBatch = cfg.eachBatch;
      state.running = true;
    },
    pause: (tps: { topic: string }[]) => {
      if (!state.running) throw new Error('Consumer group was not initialized, consumer#run must be called first');
      state.pauses.push(tps.map((t) => t.topic));
    },
    resume: (tps: { topic: string }[]) => {
      if (!state.running) throw new Error('Consumer group was not initialized, consumer#run must be called first');
      state.resumes.push(tps.map((t) => t.topic));
    },
    commitOffsets: async (o: { topic: string; partition: number; offset: string }[]) => void state.commits.push(o),
    disconnect: async () => undefined,
  };
  const emit = (name: string, payload: unknown) => listeners.get(name)?.forEach((fn) => fn({ payload }));
  const kafka = {
    consumer: (cfg: Record<string, unknown>) => {
      state.config = cfg;
      return consumer;
    },
  } as unknown as Kafka;
  const resolved: string[] = [];
  const deliver = (partition: number, messages: KafkaMessage[], highWatermark = String(Number(messages[messages.length - 1]?.offset ?? -1) + 1)) =>
    state.eachBatch!({
      batch: { topic: topic.name, partition, highWatermark, messages },
      resolveOffset: (o: string) => void resolved.push(o),
      heartbeat: async () => undefined,
      isRunning: () => true,
      isStale: () => false,
    } as unknown as EachBatchPayload);
  const join = (partitions: number[]) => emit('consumer.group_join', { memberAssignment: { [topic.name]: partitions } });
  return { kafka, state, emit, deliver, join, resolved };
}

function fakeDlq() {
  const written: DlqRecord[] = [];
  const publisher = {
    publish: async (_c: unknown, records: { value: DlqRecord }[]) => void written.push(...records.map((r) => DlqRecordSchema.parse(r.value))),
  } as unknown as RecordPublisher;
  return { publisher, written };
}

function setup(handle: (r: ConsumedRecord) => Promise<void>, extra: Partial<RecordConsumerOptions> = {}) {
  const fake = fakeKafka();
  const dlq = fakeDlq();
  const metrics = createKafkaMetrics(new Registry());
  const consumer = new RecordConsumer(fake.kafka, {
    service: 'spec',
    groupId: 'spec-group',
    contracts: [Probe],
    handle,
    keyring,
    dlq: dlq.publisher,
    logger: quiet,
    metrics,
    maxBackoffMs: 1,
    ...extra,
  });
  return { ...fake, dlq, metrics, consumer };
}

const n = (r: ConsumedRecord) => (r.value as { n: number }).n;

describe('RecordConsumer: a record that keeps failing', () => {
  it('goes to the DLQ as handler_exhausted after maxHandlerAttempts, and the next tenant is handled', async () => {
    const handled: number[] = [];
    const stuckSeen: StuckPartition[][] = [];
    let calls = 0;
    const { consumer, deliver, dlq, state, metrics } = setup(
      async (r) => {
        if (r.tenant === 'label-a') {
          calls++;
          stuckSeen.push(consumer.stuckPartitions());
          stuckGauge.push((await metrics.stuck.get()).values[0]?.value ?? 0);
          throw new Error(`database says no (${calls})`);
        }
        handled.push(n(r));
      },
      { maxHandlerAttempts: 3 },
    );
    const stuckGauge: number[] = [];
    await consumer.start();
    await deliver(0, [message('label-a', 0, { n: 1 }), message('label-b', 1, { n: 2 })]);

    expect(calls).toBe(3);
    expect(handled).toEqual([2]);
    expect(dlq.written).toHaveLength(1);
    expect(dlq.written[0]).toMatchObject({ code: 'handler_exhausted', source: { topic: topic.name, partition: 0, offset: '0', key: 'label-a' } });
    expect(dlq.written[0].reason).toContain('failed 3 times');
    expect(dlq.written[0].reason).toContain('database says no (3)');
    // While retried, the partition is reported stuck since the first failure, with the failures so far.
    expect(stuckSeen[0]).toEqual([]);
    expect(stuckSeen[1]).toEqual([{ topic: topic.name, partition: 0, offset: '0', since: expect.any(Number), attempts: 1 }]);
    expect(stuckSeen[2]).toEqual([{ topic: topic.name, partition: 0, offset: '0', since: stuckSeen[1][0].since, attempts: 2 }]);
    expect(stuckGauge).toEqual([0, 1, 1]);
    expect(consumer.stuckPartitions()).toEqual([]);
    expect((await metrics.stuck.get()).values[0]?.value).toBe(0);
    expect(state.commits.at(-1)).toEqual([{ topic: topic.name, partition: 0, offset: '2' }]);
  });

  it('tries 8 times by default', async () => {
    let calls = 0;
    const { consumer, deliver, dlq } = setup(async () => {
      calls++;
      throw new Error('nope');
    });
    await consumer.start();
    await deliver(0, [message('label-a', 0, { n: 1 })]);
    expect(calls).toBe(8);
    expect(dlq.written.map((d) => d.code)).toEqual(['handler_exhausted']);
  });

  it('keeps a record that succeeds within its attempts, and sends a PermanentError to the DLQ at once', async () => {
    let calls = 0;
    const handled: number[] = [];
    const { consumer, deliver, dlq } = setup(async (r) => {
      calls++;
      if (n(r) === 1 && calls < 3) throw new Error('briefly down');
      if (n(r) === 2) throw new PermanentError('never', 'poison');
      handled.push(n(r));
    });
    await consumer.start();
    await deliver(0, [message('label-a', 0, { n: 1 }), message('label-a', 1, { n: 2 }), message('label-a', 2, { n: 3 })]);
    expect(handled).toEqual([1, 3]);
    expect(calls).toBe(5);
    expect(dlq.written.map((d) => d.code)).toEqual(['poison']);
    expect(consumer.stuckPartitions()).toEqual([]);
  });
});

describe('RecordConsumer: DLQ records fit the DLQ topic', () => {
  it('keeps a small original value, base64, with its size', async () => {
    const { consumer, deliver, dlq } = setup(async () => {
      throw new PermanentError('bad', 'poison');
    });
    await consumer.start();
    const m = message('label-a', 0, { n: 1 });
    await deliver(0, [m]);
    expect(dlq.written[0].value).toBe(m.value!.toString('base64'));
    expect(dlq.written[0].valueBytes).toBe(m.value!.length);
  });

  it('drops an original too large for the DLQ topic and says so in the reason', async () => {
    const { consumer, deliver, dlq } = setup(async () => {
      throw new PermanentError('bad', 'poison');
    });
    await consumer.start();
    const m = message('label-a', 7, { n: 1, pad: randomBytes(900 * 1024).toString('base64') }); // incompressible: base64 > the 1 MiB DLQ topic
    await deliver(1, [m]);
    expect(dlq.written[0].value).toBeNull();
    expect(dlq.written[0].valueBytes).toBe(m.value!.length);
    expect(dlq.written[0].reason).toMatch(new RegExp(`^bad \\[the original value \\(${m.value!.length} bytes\\) was too large to keep here; it stays at ${topic.name} partition 1 offset 7`));
  });

  it('cuts oversized headers and keys once the value is gone', () => {
    const entry: DlqRecord = {
      failedAt: new Date().toISOString(),
      service: 's',
      consumerGroup: 'g',
      reason: 'r',
      code: 'schema',
      source: { topic: 't', partition: 0, offset: '1', key: 'k'.repeat(50_000), headers: { 'hr-tenant': 'label-a', junk: 'j'.repeat(50_000) } },
      value: 'v'.repeat(10_000),
      valueBytes: 7_500,
    };
    const out = dlqEntryThatFits(entry, 20_000);
    expect(out.value).toBeNull();
    expect(out.source.headers).toEqual({ 'hr-tenant': 'label-a' });
    expect(out.source.key).toHaveLength(1024);
    const small = { ...entry, source: { ...entry.source, key: 'k', headers: {} } };
    expect(dlqEntryThatFits(small, 20_000).value?.length).toBe(10_000);
    expect(dlqEntryThatFits(small, 12_000).value).toBeNull();
  });
});

describe('RecordConsumer: fetch sizes', () => {
  it('fetches whole records of its largest topic', () => {
    const { state } = setup(async () => undefined);
    expect(state.config).toMatchObject({ maxBytesPerPartition: 8 * 1024 * 1024, maxBytes: 16 * 1024 * 1024 });
  });
});

describe('RecordConsumer: pause and resume', () => {
  it('pauses every subscribed topic, also when asked before it runs, and again after each rejoin', async () => {
    const { consumer, state, join } = setup(async () => undefined);
    consumer.pause();
    expect(consumer.isPaused()).toBe(true);
    await consumer.start();
    join([0, 1]);
    expect(state.pauses).toEqual([[topic.name]]);
    join([0]); // a rebalance (or kafkajs restarting after a crash, with a fresh pause state)
    expect(state.pauses).toEqual([[topic.name], [topic.name]]);
    consumer.resume();
    expect(consumer.isPaused()).toBe(false);
    expect(state.resumes).toEqual([[topic.name]]);
    join([0, 1]);
    expect(state.pauses).toHaveLength(2);
  });

  it('stops handling a batch once paused, leaving the rest unresolved for after the resume', async () => {
    const handled: number[] = [];
    const { consumer, deliver, resolved, state } = setup(async (r) => {
      handled.push(n(r));
      if (n(r) === 2) consumer.pause();
    });
    await consumer.start();
    await deliver(0, [1, 2, 3, 4].map((i) => message('label-a', i - 1, { n: i })));
    expect(handled).toEqual([1, 2]);
    expect(resolved).toEqual(['0', '1']);
    expect(state.commits.at(-1)).toEqual([{ topic: topic.name, partition: 0, offset: '2' }]);
    expect(consumer.backlog()).toBe(2);
  });
});

describe('RecordConsumer: caughtUp', () => {
  it('is true only with no backlog, a recent fetch answer fully handled, and not paused', async () => {
    let t = 10_000;
    const { consumer, emit, deliver, join } = setup(async () => undefined, { now: () => t });
    expect(consumer.caughtUp()).toBe(false); // not running
    await consumer.start();
    expect(consumer.caughtUp()).toBe(false); // no answer from the broker yet
    emit('consumer.fetch_start', { nodeId: 1 });
    emit('consumer.fetch', { nodeId: 1 });
    expect(consumer.caughtUp()).toBe(false); // that answer's batches may still be waiting for a handler
    emit('consumer.fetch_start', { nodeId: 1 });
    expect(consumer.caughtUp()).toBe(true);
    t += 900;
    expect(consumer.caughtUp()).toBe(true);
    t += 200; // the broker has not answered for 1.1 s: frozen or unreachable
    expect(consumer.caughtUp()).toBe(false);
    expect(consumer.caughtUp(2_000)).toBe(true);
    emit('consumer.fetch', { nodeId: 1 });
    emit('consumer.fetch_start', { nodeId: 1 });
    consumer.pause();
    expect(consumer.caughtUp()).toBe(false);
    consumer.resume();
    expect(consumer.caughtUp()).toBe(true);
    // An answer from a broker whose fetcher kafkajs then dropped blocks until a rejoin, or 10 s at most.
    emit('consumer.fetch', { nodeId: 2 });
    expect(consumer.caughtUp()).toBe(false);
    join([0, 1]);
    expect(consumer.caughtUp()).toBe(true);
    emit('consumer.fetch', { nodeId: 2 });
    emit('consumer.fetch', { nodeId: 1 });
    t += 10_500;
    emit('consumer.fetch_start', { nodeId: 1 });
    emit('consumer.fetch', { nodeId: 1 });
    emit('consumer.fetch_start', { nodeId: 1 });
    expect(consumer.caughtUp()).toBe(true);
    // A batch that leaves records behind (here: high watermark ahead of what it carried) is backlog.
    await deliver(0, [message('label-a', 0, { n: 1 })], '5');
    expect(consumer.backlog()).toBe(4);
    expect(consumer.caughtUp()).toBe(false);
  });
});
