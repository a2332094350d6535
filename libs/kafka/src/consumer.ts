import type { Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import type { Counter, Gauge } from 'prom-client';
import { DlqRecordMessage, Headers, type DlqRecord, type MessageContract, type MessageOf } from '@headroom/contracts';
import type { TenantKeyring } from '@headroom/crypto';
import { decodeRecord } from './codec';
import { PermanentError } from './errors';
import type { KafkaLogger } from './client';
import { recordByteLimit, type RecordPublisher } from './publisher';

export interface ConsumedRecord<T = unknown> {
  contract: MessageContract;
  /** From the authenticated `hr-tenant` header (tenant-scoped records only). */
  tenant: string | undefined;
  key: string | null;
  /** Validated payload; null for a tombstone on a compacted topic. */
  value: T | null;
  topic: string;
  partition: number;
  offset: string;
  timestamp: number;
  traceparent: string | undefined;
}

export function isMessage<C extends MessageContract>(record: ConsumedRecord, contract: C): record is ConsumedRecord<MessageOf<C>> {
  return record.contract.id === contract.id;
}

export interface ConsumerMetrics {
  consumed: Counter<'topic' | 'outcome'>;
  lag: Gauge<'group' | 'topic' | 'partition'>;
  retries: Counter<'topic'>;
  /** Partitions whose current record is being retried (or waiting for the DLQ) right now. */
  stuck: Gauge<'group'>;
}

/** A partition held up by one record: retried since `since` (epoch ms), `attempts` failures so far. */
export interface StuckPartition {
  topic: string;
  partition: number;
  offset: string;
  since: number;
  attempts: number;
}

export const DEFAULT_MAX_HANDLER_ATTEMPTS = 8;
const FETCH_IN_HAND_EXPIRY_MS = 10_000;

export interface RecordConsumerOptions {
  service: string;
  groupId: string;
  contracts: MessageContract[];
  handle: (record: ConsumedRecord) => Promise<void>;
  keyring?: TenantKeyring;
  /** Publishes DLQ records; required unless every contract is platform-scoped and trusted. */
  dlq: RecordPublisher;
  logger: KafkaLogger;
  metrics?: ConsumerMetrics;
  fromBeginning?: boolean;
  /**
   * Lets a stateful consumer hold commits back: given the next offset after the last handled record,
   * returns the offset that is safe to commit (e.g. the first offset of a still-open window).
   */
  commitGate?: (topic: string, partition: number, nextOffset: string) => string;
  /**
   * Called when a record's tenant key is unknown: should resolve once this service has read the
   * control topic up to its current end. If the key is still unknown then, it never existed under
   * this KEK (a forged or foreign record) and the record goes to the DLQ at once.
   */
  syncKeys?: () => Promise<void>;
  /** Without `syncKeys`: how long an unknown tenant key is retried before the DLQ. */
  unknownKeyGraceMs?: number;
  maxBackoffMs?: number;
  /**
   * How many times a handler failing with a retriable (non-PermanentError) error is tried before the
   * record goes to the DLQ (`handler_exhausted`) and the partition moves on; default 8, which with
   * the default backoff is about 10 s. This bounds one tenant's poison; an outage of a dependency
   * longer than that would also send records to the DLQ, so a handler that can tell an outage (its
   * database is down for everyone) should wait for it itself rather than throw.
   */
  maxHandlerAttempts?: number;
  /** Run only once the caller's preconditions hold (e.g. control topic caught up). */
  partitionsConsumedConcurrently?: number;
  /**
   * Called after every group (re)join with the partitions this member now owns: a stateful consumer
   * drops what it holds for partitions it no longer owns (their new owner replays from the last commit).
   */
  onRebalance?: (assigned: { topic: string; partition: number }[]) => void;
  /** Test hook: the clock used for backoff decisions. */
  now?: () => number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function headersOf(message: KafkaMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(message.headers ?? {})) {
    if (v === undefined) continue;
    out[k] = Array.isArray(v) ? String(v[0]) : Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
  }
  return out;
}

/**
 * Validated, at-least-once consumption. Each record is decoded (schema, tenant, decryption), then
 * handled; permanent failures go to the DLQ with the reason and original headers; retriable ones are
 * retried with exponential backoff and never skipped. Offsets are committed only after the record is
 * handled (and, with a commit gate, only as far as the caller allows). `stop()` lets the in-flight
 * batch finish and commits.
 */
export class RecordConsumer {
  private readonly consumer: Consumer;
  private readonly accepted: ReadonlyMap<string, MessageContract>;
  private readonly nextOffsets = new Map<string, { topic: string; partition: number; offset: string }>();
  private commitTimer: NodeJS.Timeout | undefined;
  /** Since when each tenant's key has been missing: the grace is per tenant, so one unknown tenant
   *  costs the partition one grace period, not one per record. */
  private readonly missingKeySince = new Map<string, number>();
  private running = false;
  private connected = false;
  private stopping = false;
  private readonly inflight = new Set<Promise<void>>();
  /** Last known lag per partition (high watermark − next offset). */
  private readonly lagByPartition = new Map<string, number>();
  private readonly topics: string[];
  private readonly stuck = new Map<string, StuckPartition>();
  private paused = false;
  /** When the broker last answered a fetch, and which brokers' answers are still being handled. */
  private lastFetchAt: number | undefined;
  private readonly fetchesInHand = new Map<number, number>();

  constructor(
    kafka: Kafka,
    private readonly opts: RecordConsumerOptions,
  ) {
    this.topics = [...new Set(opts.contracts.map((c) => c.topic.name))];
    // Fetch whole records of the largest topic consumed: kafkajs's 1 MiB default per partition is
    // below the 8 MiB that telemetry and aggregates allow.
    const largest = Math.max(...opts.contracts.map((c) => c.topic.maxMessageBytes));
    this.consumer = kafka.consumer({
      groupId: opts.groupId,
      sessionTimeout: 30_000,
      heartbeatInterval: 3_000,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: 250,
      maxBytesPerPartition: largest,
      maxBytes: Math.max(10 * 1024 * 1024, 2 * largest),
    });
    this.accepted = new Map(opts.contracts.map((c) => [c.id, c]));
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  isRunning(): boolean {
    return this.running;
  }

  async start(): Promise<void> {
    const topics = this.topics;
    this.consumer.on(this.consumer.events.FETCH_START, (event) => {
      this.fetchesInHand.delete(event.payload.nodeId);
    });
    this.consumer.on(this.consumer.events.FETCH, (event) => {
      // The fetcher hands this answer's batches to the handlers and fetches again only once they are
      // done: until that next FETCH_START, records of this answer may still be waiting.
      this.lastFetchAt = this.now();
      this.fetchesInHand.set(event.payload.nodeId, this.lastFetchAt);
    });
    this.consumer.on(this.consumer.events.GROUP_JOIN, (event) => {
      // A consumer restarted by kafkajs after a crash has a fresh pause state: pause again before it fetches.
      if (this.paused) this.applyPause(true);
      // Fetchers are rebuilt after a join: what they held was dropped (and is fetched again).
      this.fetchesInHand.clear();
      const assigned = Object.entries(event.payload.memberAssignment).flatMap(([topic, partitions]) => partitions.map((partition) => ({ topic, partition })));
      const owned = new Set(assigned.map((a) => `${a.topic}:${a.partition}`));
      // Never commit for a partition that moved away: its new owner's progress must not be rewound.
      for (const key of [...this.nextOffsets.keys()]) if (!owned.has(key)) this.nextOffsets.delete(key);
      for (const key of [...this.stuck.keys()]) if (!owned.has(key)) this.stuck.delete(key);
      this.reportStuck();
      for (const key of [...this.lagByPartition.keys()]) {
        if (owned.has(key)) continue;
        this.lagByPartition.delete(key);
        const at = key.lastIndexOf(':');
        this.opts.metrics?.lag.remove({ group: this.opts.groupId, topic: key.slice(0, at), partition: key.slice(at + 1) });
      }
      this.opts.onRebalance?.(assigned);
    });
    await this.consumer.connect();
    this.connected = true;
    await this.consumer.subscribe({ topics, fromBeginning: this.opts.fromBeginning ?? true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.opts.partitionsConsumedConcurrently ?? 4,
      eachBatch: async (payload) => {
        if (this.stopping) return;
        const work = this.handleBatch(payload);
        this.inflight.add(work);
        try {
          await work;
        } finally {
          this.inflight.delete(work);
        }
      },
    });
    this.running = true;
    // A commit gate may open later (a window closes with no new records): commit periodically too.
    if (this.opts.commitGate) this.commitTimer = setInterval(() => void this.commit().catch(() => undefined), 2_000);
  }

  private async handleBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const first = batch.messages[0];
    // What this batch brings counts as backlog until it is handled (see caughtUp).
    if (first) this.lagByPartition.set(`${batch.topic}:${batch.partition}`, Math.max(0, Number(BigInt(batch.highWatermark) - BigInt(first.offset))));
    for (const message of batch.messages) {
      // Paused: stop here; kafkajs fetches again from the last resolved offset on resume.
      if (!isRunning() || isStale() || this.stopping || this.paused) break;
      const done = await this.process(batch.topic, batch.partition, message, heartbeat, () => isRunning() && !isStale() && !this.stopping);
      if (!done) break; // shutting down mid-retry: leave the offset uncommitted
      resolveOffset(message.offset);
      const next = (BigInt(message.offset) + 1n).toString();
      this.nextOffsets.set(`${batch.topic}:${batch.partition}`, { topic: batch.topic, partition: batch.partition, offset: next });
      const lag = Math.max(0, Number(BigInt(batch.highWatermark) - BigInt(next)));
      this.lagByPartition.set(`${batch.topic}:${batch.partition}`, lag);
      this.opts.metrics?.lag.set({ group: this.opts.groupId, topic: batch.topic, partition: String(batch.partition) }, lag);
      await heartbeat();
    }
    await this.commit();
  }

  /**
   * Records known to be waiting behind the last handled ones (as of each partition's last batch).
   * Zero means caught up: stateful consumers may then act on the wall clock (e.g. close idle windows)
   * without racing records still queued.
   */
  backlog(): number {
    let total = 0;
    for (const lag of this.lagByPartition.values()) total += lag;
    return total;
  }

  /**
   * Back-pressure: stop fetching (every subscribed topic) and stop handling after the current record.
   * Holds across rebalances and kafkajs restarts until `resume()`.
   */
  pause(): void {
    this.paused = true;
    this.applyPause(true);
  }

  resume(): void {
    this.paused = false;
    this.applyPause(false);
  }

  isPaused(): boolean {
    return this.paused;
  }

  private applyPause(pause: boolean): void {
    const topics = this.topics.map((topic) => ({ topic }));
    try {
      if (pause) this.consumer.pause(topics);
      else this.consumer.resume(topics);
    } catch (err) {
      // Not running yet (kafkajs has no group before run): GROUP_JOIN applies the pause.
      this.opts.logger.debug({ err: String(err) }, 'pause/resume before the consumer runs');
    }
  }

  /**
   * True when nothing is known to be waiting: not paused, no backlog, no fetched batch still being
   * handled, and the broker answered a fetch within `maxFetchAgeMs` (a fetch waits at most 250 ms
   * when idle). A broker that is frozen or unreachable answers no fetch, so it is never taken for
   * "no more records".
   */
  caughtUp(maxFetchAgeMs = 1_000): boolean {
    if (this.paused || !this.running || this.backlog() !== 0) return false;
    const now = this.now();
    // A batch being handled already counts as backlog; this covers the ones still queued for a worker.
    // A fetcher that kafkajs dropped (its broker leads nothing now) never starts again: forget it.
    for (const [node, at] of this.fetchesInHand) {
      if (now - at > FETCH_IN_HAND_EXPIRY_MS) this.fetchesInHand.delete(node);
      else return false;
    }
    return this.lastFetchAt !== undefined && now - this.lastFetchAt <= maxFetchAgeMs;
  }

  /** Partitions held up by a record being retried, with since when and how many failures so far. */
  stuckPartitions(): StuckPartition[] {
    return [...this.stuck.values()].map((s) => ({ ...s }));
  }

  private markStuck(topic: string, partition: number, offset: string, attempts: number): void {
    const key = `${topic}:${partition}`;
    const current = this.stuck.get(key);
    if (current && current.offset === offset) current.attempts = attempts;
    else this.stuck.set(key, { topic, partition, offset, since: this.now(), attempts });
    this.reportStuck();
  }

  private clearStuck(topic: string, partition: number): void {
    if (this.stuck.delete(`${topic}:${partition}`)) this.reportStuck();
  }

  private reportStuck(): void {
    this.opts.metrics?.stuck.set({ group: this.opts.groupId }, this.stuck.size);
  }

  /** Commits what is safe to commit now. */
  async commit(): Promise<void> {
    const offsets = [...this.nextOffsets.values()].map((o) => ({
      ...o,
      offset: this.opts.commitGate ? this.opts.commitGate(o.topic, o.partition, o.offset) : o.offset,
    }));
    if (offsets.length === 0) return;
    try {
      await this.consumer.commitOffsets(offsets);
    } catch (err) {
      // After a rebalance the partition may be someone else's: the next owner replays from the last commit.
      this.opts.logger.warn({ err: String(err) }, 'offset commit failed');
    }
  }

  /** Returns false when it gave up because the consumer is stopping. */
  private async process(topic: string, partition: number, message: KafkaMessage, heartbeat: () => Promise<void>, alive: () => boolean): Promise<boolean> {
    try {
      return await this.processOnce(topic, partition, message, heartbeat, alive);
    } finally {
      this.clearStuck(topic, partition);
    }
  }

  private async processOnce(topic: string, partition: number, message: KafkaMessage, heartbeat: () => Promise<void>, alive: () => boolean): Promise<boolean> {
    const headers = headersOf(message);
    const key = message.key ? message.key.toString('utf8') : null;
    const now = () => this.now();
    const grace = this.opts.unknownKeyGraceMs ?? 30_000;
    const tenant = headers[Headers.tenant] ?? '';
    const maxAttempts = Math.max(1, this.opts.maxHandlerAttempts ?? DEFAULT_MAX_HANDLER_ATTEMPTS);
    let handlerFailures = 0;
    for (let attempt = 0; ; attempt++) {
      let decoded = decodeRecord(topic, key, message.value, headers, this.accepted, this.opts.keyring);
      if (!decoded.ok && decoded.code === 'unknown_key' && this.opts.syncKeys) {
        try {
          await this.opts.syncKeys();
          decoded = decodeRecord(topic, key, message.value, headers, this.accepted, this.opts.keyring);
          if (!decoded.ok && decoded.code === 'unknown_key') decoded = { ...decoded, retriable: false, reason: `${decoded.reason}; not on the control topic either` };
        } catch (err) {
          this.opts.logger.warn({ err: String(err) }, 'could not sync with the control topic; retrying');
        }
      }
      let failure: { code: string; reason: string } | undefined;
      if (!decoded.ok) {
        if (decoded.code === 'unknown_key' && !this.missingKeySince.has(tenant)) this.missingKeySince.set(tenant, now());
        if (!decoded.retriable || now() - (this.missingKeySince.get(tenant) ?? now()) > grace) failure = decoded;
      } else {
        this.missingKeySince.delete(tenant);
        try {
          await this.opts.handle({
            contract: decoded.contract,
            tenant: decoded.tenant,
            key,
            value: decoded.value,
            topic,
            partition,
            offset: message.offset,
            timestamp: Number(message.timestamp),
            traceparent: headers['traceparent'],
          });
          this.opts.metrics?.consumed.inc({ topic, outcome: 'handled' });
          return true;
        } catch (err) {
          if (err instanceof PermanentError) failure = { code: err.code, reason: err.message };
          else if (++handlerFailures >= maxAttempts) {
            failure = { code: 'handler_exhausted', reason: `handler failed ${handlerFailures} times (maxHandlerAttempts); last error: ${String(err)}` };
          } else this.opts.logger.warn({ topic, partition, offset: message.offset, tenant, attempt, err: String(err) }, 'retriable failure; retrying');
        }
      }
      if (failure) {
        if (failure.code === 'tenant_destroyed') {
          // The tenant was erased: its history is unreadable by design. Nothing to keep.
          this.opts.metrics?.consumed.inc({ topic, outcome: 'erased' });
          return true;
        }
        if (await this.deadLetter(topic, partition, message, key, headers, failure, alive)) return true;
        return false;
      }
      if (!alive()) return false;
      this.markStuck(topic, partition, message.offset, attempt + 1);
      this.opts.metrics?.retries.inc({ topic });
      const backoff = Math.min(this.opts.maxBackoffMs ?? 10_000, 100 * 2 ** Math.min(attempt, 10));
      await sleep(backoff * (0.5 + Math.random() / 2));
      await heartbeat().catch(() => undefined);
    }
  }

  private async deadLetter(
    topic: string,
    partition: number,
    message: KafkaMessage,
    key: string | null,
    headers: Record<string, string>,
    failure: { code: string; reason: string },
    alive: () => boolean,
  ): Promise<boolean> {
    this.opts.logger.warn({ topic, partition, offset: message.offset, code: failure.code, reason: failure.reason }, 'record sent to the DLQ');
    const entry = dlqEntryThatFits(
      {
        failedAt: new Date().toISOString(),
        service: this.opts.service,
        consumerGroup: this.opts.groupId,
        reason: failure.reason.slice(0, 2000),
        code: failure.code.replace(/[^a-z_]/g, '_') || 'handler',
        source: { topic, partition, offset: message.offset, key, headers },
        value: message.value ? message.value.toString('base64') : null,
        ...(message.value ? { valueBytes: message.value.length } : {}),
      },
      recordByteLimit(DlqRecordMessage.topic),
    );
    for (let attempt = 0; ; attempt++) {
      try {
        await this.opts.dlq.publish(DlqRecordMessage, [{ key: entry.source.key ?? `${topic}:${partition}`, value: entry, traceparent: headers['traceparent'] }]);
        this.opts.metrics?.consumed.inc({ topic, outcome: 'dlq' });
        return true;
      } catch (err) {
        // The DLQ must not lose the record either: retry until it is written or we are stopping.
        this.opts.logger.error({ err: String(err), attempt }, 'could not write to the DLQ; retrying');
        this.markStuck(topic, partition, message.offset, (this.stuck.get(`${topic}:${partition}`)?.attempts ?? 0) + 1);
        if (!alive()) return false;
        await sleep(Math.min(10_000, 200 * 2 ** Math.min(attempt, 6)));
      }
    }
  }

  /**
   * Graceful stop: take no new batch, let the in-flight one finish, run `finalize` (e.g. persist
   * closed windows so the commit gate can move), commit while still in the group, then leave it.
   */
  async stop(finalize?: () => Promise<void>): Promise<void> {
    if (this.commitTimer) clearInterval(this.commitTimer);
    if (!this.connected) return;
    this.stopping = true;
    this.running = false;
    await Promise.allSettled([...this.inflight]);
    if (finalize) await finalize();
    await this.commit();
    await this.consumer.disconnect();
    this.connected = false;
  }
}

const DLQ_FIELD_MAX = 1024;

/**
 * A DLQ record must fit the DLQ topic itself, or writing it would fail forever and stall the
 * partition: drop the original value first (it stays in its source topic until retention, at the
 * offset given), then cut headers and key down (they are attacker-sized on a raw producer).
 */
export function dlqEntryThatFits(entry: DlqRecord, limit: number): DlqRecord {
  // Headers and framing of the DLQ record itself are small: leave them 4 KiB.
  const fits = (e: DlqRecord) => Buffer.byteLength(JSON.stringify(e)) + Buffer.byteLength(e.source.key ?? '') + 4096 <= limit;
  if (fits(entry)) return entry;
  const bytes = entry.valueBytes ?? 0;
  const note = ` [the original value (${bytes} bytes) was too large to keep here; it stays at ${entry.source.topic} partition ${entry.source.partition} offset ${entry.source.offset} until retention]`;
  const withoutValue: DlqRecord = { ...entry, value: null, reason: entry.reason.slice(0, 2000 - note.length) + note };
  if (fits(withoutValue)) return withoutValue;
  const cut = (v: string) => (v.length > DLQ_FIELD_MAX ? v.slice(0, DLQ_FIELD_MAX) : v);
  const headers = Object.fromEntries(
    Object.entries(entry.source.headers)
      .filter(([name]) => (Object.values(Headers) as string[]).includes(name))
      .map(([name, value]) => [name, cut(value)]),
  );
  return { ...withoutValue, source: { ...entry.source, key: entry.source.key === null ? null : cut(entry.source.key), headers } };
}
