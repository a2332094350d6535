import type { Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import type { Counter, Gauge } from 'prom-client';
import { DlqRecordMessage, type MessageContract, type MessageOf } from '@headroom/contracts';
import type { TenantKeyring } from '@headroom/crypto';
import { decodeRecord } from './codec';
import { PermanentError } from './errors';
import type { KafkaLogger } from './client';
import type { RecordPublisher } from './publisher';

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
}

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

  constructor(
    kafka: Kafka,
    private readonly opts: RecordConsumerOptions,
  ) {
    this.consumer = kafka.consumer({
      groupId: opts.groupId,
      sessionTimeout: 30_000,
      heartbeatInterval: 3_000,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: 250,
    });
    this.accepted = new Map(opts.contracts.map((c) => [c.id, c]));
  }

  isRunning(): boolean {
    return this.running;
  }

  async start(): Promise<void> {
    const topics = [...new Set(this.opts.contracts.map((c) => c.topic.name))];
    this.consumer.on(this.consumer.events.GROUP_JOIN, (event) => {
      const assigned = Object.entries(event.payload.memberAssignment).flatMap(([topic, partitions]) => partitions.map((partition) => ({ topic, partition })));
      const owned = new Set(assigned.map((a) => `${a.topic}:${a.partition}`));
      // Never commit for a partition that moved away: its new owner's progress must not be rewound.
      for (const key of [...this.nextOffsets.keys()]) if (!owned.has(key)) this.nextOffsets.delete(key);
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
    for (const message of batch.messages) {
      if (!isRunning() || isStale() || this.stopping) break;
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
    const headers = headersOf(message);
    const key = message.key ? message.key.toString('utf8') : null;
    const now = this.opts.now ?? Date.now;
    const grace = this.opts.unknownKeyGraceMs ?? 30_000;
    const tenant = headers['hr-tenant'] ?? '';
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
          else this.opts.logger.warn({ topic, partition, offset: message.offset, attempt, err: String(err) }, 'retriable failure; retrying');
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
    for (let attempt = 0; ; attempt++) {
      try {
        await this.opts.dlq.publish(DlqRecordMessage, [
          {
            key: key ?? `${topic}:${partition}`,
            value: {
              failedAt: new Date().toISOString(),
              service: this.opts.service,
              consumerGroup: this.opts.groupId,
              reason: failure.reason.slice(0, 2000),
              code: failure.code.replace(/[^a-z_]/g, '_') || 'handler',
              source: { topic, partition, offset: message.offset, key, headers },
              value: message.value ? message.value.toString('base64') : null,
            },
            traceparent: headers['traceparent'],
          },
        ]);
        this.opts.metrics?.consumed.inc({ topic, outcome: 'dlq' });
        return true;
      } catch (err) {
        // The DLQ must not lose the record either: retry until it is written or we are stopping.
        this.opts.logger.error({ err: String(err), attempt }, 'could not write to the DLQ; retrying');
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
