import { CompressionTypes, Partitioners, type Kafka, type Producer } from 'kafkajs';
import type { Counter } from 'prom-client';
import { Headers, type MessageContract, type MessageOf, type TopicSpec } from '@headroom/contracts';
import type { ControlRecordSigner, TenantKeyring } from '@headroom/crypto';
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

/**
 * A record's framing inside a batch, which `encodedRecordBytes` does not count: length, attributes,
 * timestamp and offset deltas, key/value/header lengths (varints) — ~20 bytes plus ~6 per header,
 * rounded up. Counted per record when records are grouped into one request, so that thousands of
 * small records cannot push a batch over the limit the margin was meant for.
 */
export const RECORD_FRAMING_BYTES = 64;

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

/** A publish given up by its caller (`signal`) while it waited for its turn: nothing of it was sent. */
export class PublishAbortedError extends Error {
  constructor() {
    super('publish aborted before it was sent: nothing of it reached Kafka');
    this.name = 'PublishAbortedError';
  }
}

/** One chunk of one publish call, waiting for (or in) a send. */
interface Pending {
  topic: string;
  limitBytes: number;
  messages: EncodedRecord[];
  bytes: number;
  call: PendingCall;
}

interface PendingCall {
  chunksLeft: number;
  state: 'queued' | 'sending' | 'done';
  resolve(): void;
  reject(err: Error): void;
}

export interface PublishCallOptions<C extends MessageContract> extends PublishOptions<C> {
  /**
   * Abort while still queued behind other sends: the call rejects with PublishAbortedError and
   * nothing of it is ever sent. Once its send has started the abort is ignored: the call settles
   * with the send's outcome (see `inFlight`).
   */
  signal?: AbortSignal;
}

/**
 * Typed, validated publishing. The producer is idempotent (no duplicates from its own retries) and
 * waits for all in-sync replicas, so a resolved `publish` means the records are durable.
 * Every record fits its topic: one too large is split (when the caller says how) or refused, and
 * records are sent in requests that stay under the topic's limit (kafkajs puts all of one send's
 * records for a partition into one batch, and the broker checks the batch against the limit).
 *
 * Group commit: kafkajs has no linger (one `send` = one request) and the idempotent producer keeps
 * one request in flight. So calls queue while a send is in flight, and the next send carries
 * everything queued by then (up to the topic's limit per request): under load, many concurrent
 * publishes share one round trip; alone, a publish is sent at once (no linger delay).
 * Sealed payloads are compressed by the codec before encryption (ciphertext does not compress), so
 * the Kafka-level compression is off.
 */
/**
 * Signs the records of some topics (control signs headroom.control.v1: services refuse what it did
 * not sign). The signature covers the encoded bytes, so it is added after encoding.
 */
export interface RecordSigner {
  topics: ReadonlySet<string>;
  signer: Pick<ControlRecordSigner, 'sign'>;
}

export class RecordPublisher {
  private readonly producer: Producer;
  private connected = false;
  private readonly queue: Pending[] = [];
  private sending = false;

  constructor(
    kafka: Kafka,
    private readonly keyring: TenantKeyring | undefined,
    private readonly produced?: Counter<'topic'>,
    private readonly opts: { signer?: RecordSigner } = {},
  ) {
    this.producer = kafka.producer({
      idempotent: true,
      // kafkajs tracks idempotent sequence numbers itself: one request in flight keeps them gapless
      // (concurrent publishes are grouped into the next request instead, see above).
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

  /** Records waiting for a send (for a readiness or back-pressure signal). */
  queuedRecords(): number {
    let n = 0;
    for (const p of this.queue) n += p.messages.length;
    return n;
  }

  /**
   * Validates, seals and sends `records`, in order. Everything is encoded before anything is sent:
   * an invalid record, or one too large that `opts.split` cannot split (RecordTooLargeError), means
   * nothing of this call is sent.
   */
  async publish<C extends MessageContract>(contract: C, records: OutgoingRecord<C>[], opts: PublishCallOptions<C> = {}): Promise<void> {
    if (records.length === 0) return;
    const limit = recordByteLimit(contract.topic);
    const messages: { message: EncodedRecord; bytes: number }[] = [];
    for (const r of records) {
      const key = r.key ?? (r.tenant ? recordKey(r.tenant, r.shards, r.shardBy) : undefined);
      if (!key) throw new Error(`${contract.id}: a key or a tenant is required`);
      this.encodeFitting(contract, r.value, { key, tenant: r.tenant, traceparent: r.traceparent }, limit, opts.split, messages);
    }
    if (opts.signal?.aborted) throw new PublishAbortedError();
    const chunks = chunksUnder(messages, limit);
    await new Promise<void>((resolve, reject) => {
      const call: PendingCall = { chunksLeft: chunks.length, state: 'queued', resolve, reject };
      for (const c of chunks) this.queue.push({ topic: contract.topic.name, limitBytes: limit, messages: c.records, bytes: c.bytes, call });
      opts.signal?.addEventListener(
        'abort',
        () => {
          if (call.state !== 'queued') return;
          // Not a byte of it was handed to the producer: take it out of the queue.
          for (let i = this.queue.length - 1; i >= 0; i--) if (this.queue[i].call === call) this.queue.splice(i, 1);
          call.state = 'done';
          reject(new PublishAbortedError());
        },
        { once: true },
      );
      this.kick();
    });
  }

  private kick(): void {
    if (this.sending || this.queue.length === 0) return;
    this.sending = true;
    void this.drain().finally(() => {
      this.sending = false;
      this.kick();
    });
  }

  /** Sends what is queued, one request per topic (each under the topic's limit), until the queue is empty. */
  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = takeBatch(this.queue);
      const calls = new Set(batch.map((p) => p.call));
      for (const call of calls) call.state = 'sending';
      const byTopic = new Map<string, EncodedRecord[]>();
      for (const p of batch) (byTopic.get(p.topic) ?? byTopic.set(p.topic, []).get(p.topic)!).push(...p.messages);
      try {
        for (const [topic, messages] of byTopic) {
          await this.producer.send({
            topic,
            acks: -1,
            compression: CompressionTypes.None,
            messages: messages.map((m) => ({ key: m.key, value: m.value, headers: m.headers })),
          });
          this.produced?.inc({ topic }, messages.length);
        }
      } catch (err) {
        // Every call with a chunk in this send fails whole (its other chunks are dropped from the queue).
        for (const call of calls) {
          call.state = 'done';
          call.reject(err as Error);
        }
        for (let i = this.queue.length - 1; i >= 0; i--) if (calls.has(this.queue[i].call)) this.queue.splice(i, 1);
        continue;
      }
      for (const p of batch) {
        if (p.call.state === 'done') continue;
        if (--p.call.chunksLeft === 0) {
          p.call.state = 'done';
          p.call.resolve();
        }
        // Otherwise it stays 'sending': part of it is on Kafka, so an abort can no longer undo it.
      }
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
    const signer = this.opts.signer;
    if (signer?.topics.has(contract.topic.name)) {
      Object.assign(
        message.headers,
        signer.signer.sign({ topic: contract.topic.name, key: message.key, schema: message.headers[Headers.schema], codec: message.headers[Headers.codec] }, message.value),
      );
    }
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
    // In-flight and queued publishes finish first (graceful shutdown: nothing answered is lost).
    while (this.sending || this.queue.length > 0) await new Promise((r) => setTimeout(r, 10));
    this.connected = false;
    await this.producer.disconnect();
  }
}

/**
 * The next send: queued chunks in order, each topic's total kept under its limit. Once a topic's
 * chunk does not fit, later chunks of that topic wait too, so records of one key stay in order; a
 * call's chunks go one per send, in order, for the same reason.
 */
function takeBatch(queue: Pending[]): Pending[] {
  const taken: Pending[] = [];
  const used = new Map<string, number>();
  const full = new Set<string>();
  const callsTaken = new Set<PendingCall>();
  for (let i = 0; i < queue.length; ) {
    const p = queue[i];
    const u = used.get(p.topic) ?? 0;
    const limit = p.limitBytes;
    if (full.has(p.topic) || callsTaken.has(p.call) || (u > 0 && u + p.bytes > limit)) {
      full.add(p.topic);
      i++;
      continue;
    }
    used.set(p.topic, u + p.bytes);
    callsTaken.add(p.call);
    taken.push(p);
    queue.splice(i, 1);
  }
  return taken;
}

/** Consecutive groups of records whose bytes add up to at most `limit` (a record alone always fits: see encodeFitting). */
function chunksUnder(messages: { message: EncodedRecord; bytes: number }[], limit: number): { records: EncodedRecord[]; bytes: number }[] {
  const chunks: { records: EncodedRecord[]; bytes: number }[] = [];
  let current: EncodedRecord[] = [];
  let bytes = 0;
  for (const m of messages) {
    const framed = m.bytes + RECORD_FRAMING_BYTES;
    if (current.length > 0 && bytes + framed > limit) {
      chunks.push({ records: current, bytes });
      current = [];
      bytes = 0;
    }
    current.push(m.message);
    bytes += framed;
  }
  if (current.length > 0) chunks.push({ records: current, bytes });
  return chunks;
}
