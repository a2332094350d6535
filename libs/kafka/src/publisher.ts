import { CompressionTypes, Partitioners, type Kafka, type Producer } from 'kafkajs';
import type { Counter } from 'prom-client';
import type { MessageContract, MessageOf, TopicSpec } from '@headroom/contracts';
import type { TenantKeyring } from '@headroom/crypto';
import { encodeRecord, type EncodedRecord } from './codec';
import { RecordTooLargeError } from './errors';
import { recordKey } from './partitioning';

export interface OutgoingRecord<C extends MessageContract> {
  /** Required for tenant-scoped contracts: the tenant whose key seals the payload. */
  tenant?: string;
  /** Defaults to the tenant (or `tenant#k` when `shards > 1` and `shardBy` is given). */
  key?: string;
  shards?: number;
  shardBy?: string;
  /** null = tombstone (compacted topics only). */
  value: MessageOf<C> | null;
  traceparent?: string;
}

/** Splits a value that is too large into two halves that are each valid; undefined = cannot split. */
export type RecordSplitter<T> = (value: T) => [T, T] | undefined;

export interface PublishOptions<C extends MessageContract> {
  /** How to halve a record whose encoding does not fit the topic (see `splitArrayField`). */
  split?: RecordSplitter<MessageOf<C>>;
}

/** Room left under `max.message.bytes` for what the byte count below does not see (record and batch framing, compression). */
export const RECORD_SAFETY_MARGIN_BYTES = 64 * 1024;

/** The most bytes (key + value + headers) one record of `topic` may carry. */
export function recordByteLimit(topic: Pick<TopicSpec, 'maxMessageBytes'>): number {
  // Small topics (tests) keep most of their room; the registry's topics get the full 64 KiB margin.
  return topic.maxMessageBytes - Math.min(RECORD_SAFETY_MARGIN_BYTES, Math.floor(topic.maxMessageBytes / 8));
}

/** Bytes of an encoded record as the broker counts them, framing aside. */
export function encodedRecordBytes(record: EncodedRecord): number {
  let bytes = Buffer.byteLength(record.key) + (record.value?.length ?? 0);
  for (const [name, value] of Object.entries(record.headers)) bytes += Buffer.byteLength(name) + Buffer.byteLength(value);
  return bytes;
}

/**
 * A splitter that halves the array `field` of a value (e.g. `points`, `windows`), keeping every
 * other field in both halves and the items' order; undefined when the array has fewer than 2 items.
 */
export function splitArrayField<K extends string>(field: K) {
  return <T extends { readonly [P in K]: readonly unknown[] }>(value: T): [T, T] | undefined => {
    const items = value[field];
    if (!Array.isArray(items) || items.length < 2) return undefined;
    const half = Math.ceil(items.length / 2);
    return [
      { ...value, [field]: items.slice(0, half) },
      { ...value, [field]: items.slice(half) },
    ];
  };
}

/**
 * Typed, validated publishing. The producer is idempotent (no duplicates from its own retries) and
 * waits for all in-sync replicas, so a resolved `publish` means the records are durable.
 * Every record fits its topic: one too large is split (when the caller says how) or refused, and
 * records are sent in requests that stay under the topic's limit (kafkajs puts all of one send's
 * records for a partition into one batch, and the broker checks the batch against the limit).
 */
export class RecordPublisher {
  private readonly producer: Producer;
  private connected = false;

  constructor(
    kafka: Kafka,
    private readonly keyring: TenantKeyring | undefined,
    private readonly produced?: Counter<'topic'>,
  ) {
    this.producer = kafka.producer({
      idempotent: true,
      // kafkajs tracks idempotent sequence numbers itself: one request in flight keeps them gapless
      // (concurrent publishes still batch into that request's successors).
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
  }

  async connect(): Promise<void> {
    if (this.connected) return;
    await this.producer.connect();
    this.connected = true;
  }

  isConnected(): boolean {
    return this.connected;
  }

  /**
   * Validates, seals and sends `records`, in order. Everything is encoded before anything is sent:
   * an invalid record, or one too large that `opts.split` cannot split (RecordTooLargeError), means
   * nothing of this call is sent.
   */
  async publish<C extends MessageContract>(contract: C, records: OutgoingRecord<C>[], opts: PublishOptions<C> = {}): Promise<void> {
    if (records.length === 0) return;
    const limit = recordByteLimit(contract.topic);
    const messages: { message: EncodedRecord; bytes: number }[] = [];
    for (const r of records) {
      const key = r.key ?? (r.tenant ? recordKey(r.tenant, r.shards, r.shardBy) : undefined);
      if (!key) throw new Error(`${contract.id}: a key or a tenant is required`);
      this.encodeFitting(contract, r.value, { key, tenant: r.tenant, traceparent: r.traceparent }, limit, opts.split, messages);
    }
    for (const chunk of chunksUnder(messages, limit)) {
      await this.producer.send({
        topic: contract.topic.name,
        acks: -1,
        compression: CompressionTypes.GZIP,
        messages: chunk.map((m) => ({ key: m.key, value: m.value, headers: m.headers })),
      });
      this.produced?.inc({ topic: contract.topic.name }, chunk.length);
    }
  }

  /** Encodes `value`, halving it with `split` (depth first, order kept) until every part fits. */
  private encodeFitting<C extends MessageContract>(
    contract: C,
    value: MessageOf<C> | null,
    meta: { key: string; tenant?: string; traceparent?: string },
    limit: number,
    split: RecordSplitter<MessageOf<C>> | undefined,
    out: { message: EncodedRecord; bytes: number }[],
  ): void {
    const message = encodeRecord(contract, value, { ...meta, keyring: this.keyring });
    const bytes = encodedRecordBytes(message);
    if (bytes <= limit) {
      out.push({ message, bytes });
      return;
    }
    const halves = value === null ? undefined : split?.(value);
    if (!halves) throw new RecordTooLargeError(contract.topic.name, bytes, limit, contract.id);
    for (const half of halves) this.encodeFitting(contract, half, meta, limit, split, out);
  }

  async disconnect(): Promise<void> {
    if (!this.connected) return;
    this.connected = false;
    await this.producer.disconnect();
  }
}

/** Consecutive groups of records whose bytes add up to at most `limit` (a record alone always fits: see encodeFitting). */
function chunksUnder(messages: { message: EncodedRecord; bytes: number }[], limit: number): EncodedRecord[][] {
  const chunks: EncodedRecord[][] = [];
  let current: EncodedRecord[] = [];
  let bytes = 0;
  for (const m of messages) {
    if (current.length > 0 && bytes + m.bytes > limit) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(m.message);
    bytes += m.bytes;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}
