import { Registry } from 'prom-client';
import { z } from 'zod';
import { defineMessage, type DlqRecord } from '@headroom/contracts';
import { createWrappedKey, KeyEncryptionKey, TenantKeyring } from '@headroom/crypto';
import { createKafkaMetrics, encodeRecord, type KafkaClient, type RecordPublisher } from '@headroom/kafka';
import { Readiness } from '@headroom/runtime';
import { TenantTopicConsumer, type TenantConsumerOptions } from './tenant-topic-consumer';

const topic = { name: 'headroom.tenant-consumer-spec.v1', partitions: 1, maxMessageBytes: 1024 * 1024, config: {}, description: 'spec' };
const Probe = defineMessage({ name: 'probe', version: 1, topic, schema: z.object({ n: z.number().int() }), tenantScoped: true });
const kek = KeyEncryptionKey.generate();
const keyring = new TenantKeyring(kek);
keyring.add(createWrappedKey(kek, 'label-a', 'data', 1));
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };

function record(offset: number, n: number) {
  const r = encodeRecord(Probe, { n }, { key: 'label-a', tenant: 'label-a', keyring });
  return { key: Buffer.from(r.key), value: r.value, headers: Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, Buffer.from(v)])), offset: String(offset), timestamp: '0' };
}

/** Just enough of a kafkajs consumer: records pause/resume, lets the test deliver one batch. */
function fakeKafka() {
  const state = { running: false, eachBatch: undefined as undefined | ((p: unknown) => Promise<void>), pauses: 0, resumes: 0 };
  const consumer = {
    events: { GROUP_JOIN: 'join', FETCH: 'fetch', FETCH_START: 'fetch_start' },
    on: () => undefined,
    connect: async () => undefined,
    subscribe: async () => undefined,
    run: async (cfg: { eachBatch: (p: unknown) => Promise<void> }) => {
      state.eachBatch = cfg.eachBatch;
      state.running = true;
    },
    pause: () => void state.pauses++,
    resume: () => void state.resumes++,
    commitOffsets: async () => undefined,
    disconnect: async () => undefined,
  };
  const deliver = (messages: ReturnType<typeof record>[]) =>
    state.eachBatch!({
      batch: { topic: topic.name, partition: 0, highWatermark: String(messages.length), messages },
      resolveOffset: () => undefined,
      heartbeat: async () => undefined,
      isRunning: () => true,
      isStale: () => false,
    });
  return { kafka: { consumer: () => consumer } as unknown as KafkaClient, state, deliver };
}

function setup(opts: Partial<TenantConsumerOptions> & Pick<TenantConsumerOptions, 'handle'>) {
  const fake = fakeKafka();
  const readiness = new Readiness();
  const dlq: DlqRecord[] = [];
  const publisher = { publish: async (_c: unknown, rs: { value: DlqRecord }[]) => void dlq.push(...rs.map((r) => r.value)) } as unknown as RecordPublisher;
  const consumer = new TenantTopicConsumer(
    {
      service: 'spec',
      kafka: fake.kafka,
      keyring,
      dlq: publisher,
      logger: quiet as never,
      metrics: createKafkaMetrics(new Registry()),
      syncKeys: async () => undefined,
      controlReady: async () => undefined,
      readiness,
    },
    { groupId: 'spec', contracts: [Probe], readinessCheck: 'probe_consumer', ...opts },
  );
  return { ...fake, readiness, consumer, dlq };
}

const waitFor = async (check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(check()).toBe(true);
};

describe('TenantTopicConsumer', () => {
  it('passes pause, resume, caughtUp and maxHandlerAttempts through to its RecordConsumer', async () => {
    let calls = 0;
    const { consumer, state, deliver, dlq } = setup({
      maxHandlerAttempts: 2,
      handle: async () => {
        calls++;
        throw new Error('always');
      },
    });
    expect(consumer.caughtUp()).toBe(false);
    consumer.run();
    await waitFor(() => consumer.isRunning());
    consumer.pause();
    expect(consumer.isPaused()).toBe(true);
    consumer.resume();
    expect(consumer.isPaused()).toBe(false);
    expect(state).toMatchObject({ pauses: 1, resumes: 1 });
    await deliver([record(0, 1)]);
    expect(calls).toBe(2);
    expect(dlq.map((d) => d.code)).toEqual(['handler_exhausted']);
    expect(consumer.stuckPartitions()).toEqual([]);
    await consumer.stop();
  });

  it('with stuckReadinessMs, is not ready while a partition has been stuck longer than that', async () => {
    let healthy = false;
    const { consumer, deliver, readiness } = setup({
      stuckReadinessMs: 100,
      maxHandlerAttempts: 1000,
      handle: async () => {
        if (!healthy) throw new Error('not yet');
      },
    });
    consumer.run();
    await waitFor(() => consumer.isRunning());
    expect((await readiness.status()).checks).toEqual({ probe_consumer: true, probe_consumer_not_stuck: true });
    const handling = deliver([record(0, 1)]);
    await waitFor(() => consumer.stuckPartitions().length === 1);
    await new Promise((r) => setTimeout(r, 150));
    expect(await readiness.status()).toEqual({ ready: false, checks: { probe_consumer: true, probe_consumer_not_stuck: false } });
    healthy = true;
    await handling;
    expect((await readiness.status()).ready).toBe(true);
    await consumer.stop();
  });

  it('by default keeps readiness to "running" (a stuck tenant must not take the service out)', async () => {
    const { consumer, readiness } = setup({ handle: async () => undefined });
    consumer.run();
    await waitFor(() => consumer.isRunning());
    expect((await readiness.status()).checks).toEqual({ probe_consumer: true });
    await consumer.stop();
  });
});
