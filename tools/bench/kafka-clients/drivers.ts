/**
 * One producer per client, configured as close to libs/kafka's as each allows: idempotent, acks=all,
 * no Kafka-level compression (sealed payloads are compressed before encryption), murmur2 key
 * partitioning (kafkajs' and Java's default, so every client puts a key on the same partition).
 * The candidates are loaded from their cache folders, so only the few calls used here are typed.
 */
import { createKafkaClient, type KafkaClient } from '@headroom/kafka';
import type { BenchRecord } from './records';

export interface ClientDriver {
  /** Sends the records in one call of the client and resolves when the broker acknowledged them all. */
  send(records: readonly BenchRecord[]): Promise<void>;
  close(): Promise<void>;
  /** The producer settings used, for the JSON. */
  readonly settings: Readonly<Record<string, unknown>>;
}

const silent = { info() {}, warn() {}, error() {}, debug() {} };

/** kafkajs through libs/kafka's own client factory (its retry and logging settings), producer as RecordPublisher makes it. */
export async function kafkajsDriver(brokers: string[], topic: string): Promise<ClientDriver> {
  // kafkajs 2 warns once that its default partitioner changed; the default (murmur2) is the one wanted.
  process.env['KAFKAJS_NO_PARTITIONER_WARNING'] = '1';
  const kafka: KafkaClient = createKafkaClient({ brokers, clientId: 'bench-kafka-clients-kafkajs', logger: silent });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  return {
    settings: { idempotent: true, maxInFlightRequests: 1, acks: -1, compression: 'none', linger: 'none (one send = one request)' },
    async send(records) {
      // CompressionTypes.None is 0 (the enum is kafkajs', which only libs/kafka may import).
      await producer.send({ topic, acks: -1, compression: 0, messages: records.map((r) => ({ key: r.key, value: r.value, headers: r.headers })) });
    },
    close: () => producer.disconnect(),
  };
}

interface PlatformaticProducer {
  send(options: { messages: { topic: string; key: Buffer; value: Buffer; headers: Map<Buffer, Buffer> }[] }): Promise<unknown>;
  close(): Promise<void>;
}
interface PlatformaticModule {
  Producer: new (options: Record<string, unknown>) => PlatformaticProducer;
  ProduceAcks: { ALL: number };
}

/** @platformatic/kafka: Buffers in and out (no serializers); idempotent forces one request in flight per broker. */
export async function platformaticDriver(mod: PlatformaticModule, brokers: string[], topic: string): Promise<ClientDriver> {
  const settings = { clientId: 'bench-kafka-clients-platformatic', bootstrapBrokers: brokers, idempotent: true, acks: mod.ProduceAcks.ALL, compression: 'none', retries: 8 };
  const producer = new mod.Producer(settings);
  const messages = new WeakMap<BenchRecord, { topic: string; key: Buffer; value: Buffer; headers: Map<Buffer, Buffer> }>();
  // Headers and key as Buffers, made once per record: the client's own serialisation is what is measured.
  const message = (r: BenchRecord) => {
    let m = messages.get(r);
    if (!m) {
      m = { topic, key: Buffer.from(r.key), value: r.value, headers: new Map(Object.entries(r.headers).map(([k, v]) => [Buffer.from(k), Buffer.from(v)])) };
      messages.set(r, m);
    }
    return m;
  };
  return {
    settings: { idempotent: true, acks: -1, compression: 'none', maxInflights: '1 (forced by idempotent)', linger: 'none in send()' },
    async send(records) {
      await producer.send({ messages: records.map(message) });
    },
    close: () => producer.close(),
  };
}

interface ConfluentProducer {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  send(record: { topic: string; messages: { key: string; value: Buffer; headers: Record<string, string> }[] }): Promise<unknown>;
}
export interface ConfluentModule {
  KafkaJS: { Kafka: new (config: Record<string, unknown>) => { producer(config: Record<string, unknown>): ConfluentProducer }; logLevel: { ERROR: number } };
}

/** @confluentinc/kafka-javascript through its KafkaJS-compatible API (the one a libs/kafka switch would use). */
export async function confluentDriver(mod: ConfluentModule, brokers: string[], topic: string, lingerMs: number): Promise<ClientDriver> {
  const { Kafka, logLevel } = mod.KafkaJS;
  const kafka = new Kafka({ kafkaJS: { brokers, clientId: 'bench-kafka-clients-confluent', logLevel: logLevel.ERROR } });
  const librdkafka = { 'linger.ms': lingerMs, partitioner: 'murmur2_random', 'compression.type': 'none' };
  const producer = kafka.producer({ kafkaJS: { idempotent: true, acks: -1 }, ...librdkafka });
  await producer.connect();
  return {
    settings: { idempotent: true, acks: -1, ...librdkafka, maxInFlight: '5 (librdkafka idempotence keeps order)' },
    async send(records) {
      await producer.send({ topic, messages: records.map((r) => ({ key: r.key, value: r.value, headers: r.headers as Record<string, string> })) });
    },
    close: () => producer.disconnect(),
  };
}
