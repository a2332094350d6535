import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';

export interface RawRecord {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

/**
 * Byte-level access to topics, for operators' tools (inspecting or replaying the DLQ) and for tests
 * that must forge or inspect records exactly as they are on the wire. Services never use this:
 * they go through RecordPublisher / RecordConsumer, which validate and seal.
 */
export async function readRawRecords(
  kafka: Kafka,
  topic: string,
  opts: {
    until: (records: RawRecord[]) => boolean;
    timeoutMs: number;
    /** Keeps only the records it accepts (and asks `until` only when one was kept): reading a long topic stays linear. */
    filter?: (record: RawRecord) => boolean;
  },
): Promise<RawRecord[]> {
  const consumer = kafka.consumer({ groupId: `raw-reader-${randomUUID()}`, allowAutoTopicCreation: false, maxWaitTimeInMs: 100 });
  const records: RawRecord[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    let resolveDone!: () => void;
    const done = new Promise<void>((r) => (resolveDone = r));
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) if (v !== undefined) headers[k] = String(Array.isArray(v) ? v[0] : v);
        const record = { topic, partition, offset: message.offset, key: message.key?.toString('utf8') ?? null, value: message.value, headers };
        if (opts.filter && !opts.filter(record)) return;
        records.push(record);
        if (opts.until(records)) resolveDone();
      },
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([done, new Promise((r) => (timer = setTimeout(r, opts.timeoutMs)))]);
    clearTimeout(timer);
    return records;
  } finally {
    await consumer.disconnect();
  }
}

export async function produceRawRecords(kafka: Kafka, topic: string, records: Pick<RawRecord, 'key' | 'value' | 'headers'>[]): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages: records.map((r) => ({ key: r.key, value: r.value, headers: r.headers })) });
  } finally {
    await producer.disconnect();
  }
}
