import { randomUUID } from 'node:crypto';
import type { Consumer, Kafka } from 'kafkajs';
import { Headers, type MessageContract } from '@headroom/contracts';
import type { SignatureCheck, SignedRecordMeta } from '@headroom/crypto';
import { decodeRecord } from './codec';
import type { KafkaLogger } from './client';

/** A record the reader did not apply, with why: the caller dead-letters it. */
export interface RefusedRecord {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
  code: string;
  reason: string;
}

/**
 * Reads a whole compacted topic (the control topic) into the caller's state, from the beginning, on
 * every start, and follows it. Every instance sees every record: each reader gets a fresh group id
 * and never commits. `caughtUp()` turns true once the high watermarks seen at start are reached,
 * which services use for readiness (no request is served on a partial view of tenants and keys).
 */
export class CompactedTopicReader {
  private readonly consumer: Consumer;
  private targets = new Map<number, bigint>();
  /** Next offset to read, per partition. */
  private readonly position = new Map<number, bigint>();
  private syncing: Promise<void> | undefined;
  private done = false;
  private waiters: (() => void)[] = [];
  /** Signing time of the newest record applied per key (replay detection). */
  private readonly signedAt = new Map<string, number>();

  constructor(
    private readonly kafka: Kafka,
    private readonly opts: {
      contract: MessageContract;
      groupPrefix: string;
      logger: KafkaLogger;
      apply: (key: string | null, value: unknown) => void;
      /**
       * Checks each record's signature before anything of it is applied (ControlRecordVerifier).
       * A record that fails, or that is older than what this reader already applied for its key (a
       * replayed record), is not applied: it goes to `refused`.
       */
      verify?: { check(meta: SignedRecordMeta, value: Buffer | null, headers: Record<string, string>): SignatureCheck };
      refused?: (record: RefusedRecord) => void;
    },
  ) {
    this.consumer = kafka.consumer({ groupId: `${opts.groupPrefix}-${randomUUID()}`, allowAutoTopicCreation: false, maxWaitTimeInMs: 100 });
  }

  caughtUp(): boolean {
    return this.done;
  }

  waitUntilCaughtUp(): Promise<void> {
    return this.done ? Promise.resolve() : new Promise((r) => this.waiters.push(r));
  }

  async start(): Promise<void> {
    const topic = this.opts.contract.topic.name;
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      for (const p of await admin.fetchTopicOffsets(topic)) {
        const high = BigInt(p.high);
        if (high > BigInt(p.low)) this.targets.set(p.partition, high);
      }
    } finally {
      await admin.disconnect();
    }
    if (this.targets.size === 0) this.markCaughtUp();
    await this.consumer.connect();
    await this.consumer.subscribe({ topic, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) if (v !== undefined) headers[k] = String(Array.isArray(v) ? v[0] : v);
        const key = message.key ? message.key.toString('utf8') : null;
        const refusal = this.refusal(topic, key, message.value, headers);
        if (refusal) {
          this.opts.logger.error({ key, code: refusal.code, reason: refusal.reason }, 'control record refused');
          this.opts.refused?.({ topic, partition, offset: message.offset, key, value: message.value, headers, ...refusal });
          this.advance(partition, message.offset);
          return;
        }
        const decoded = decodeRecord(topic, key, message.value, headers, new Set([this.opts.contract.id]), undefined);
        if (decoded.ok) {
          try {
            this.opts.apply(key, decoded.value);
          } catch (err) {
            // One bad record must not stop the view: log it (control publishes validated records only).
            this.opts.logger.error({ key, err: String(err) }, 'control record could not be applied');
          }
        } else {
          this.opts.logger.error({ key, code: decoded.code, reason: decoded.reason }, 'invalid control record skipped');
        }
        this.advance(partition, message.offset);
      },
    });
  }

  /** Why a record must not be applied (unsigned, forged, or replayed over a newer one), if it must not. */
  private refusal(topic: string, key: string | null, value: Buffer | null, headers: Record<string, string>): { code: string; reason: string } | undefined {
    if (!this.opts.verify) return undefined;
    const check = this.opts.verify.check({ topic, key, schema: headers[Headers.schema], codec: headers[Headers.codec] }, value, headers);
    if (!check.ok) return { code: check.code, reason: check.reason };
    // Compaction keeps the newest record per key, so an older signature after a newer one for the same
    // key can only be a replay of a genuine old record (e.g. an API key from before its revocation).
    const entity = key ?? '';
    const newest = this.signedAt.get(entity);
    if (newest !== undefined && check.signedAt < newest) {
      return { code: 'control_replayed', reason: `signed at ${new Date(check.signedAt).toISOString()}, before the record already applied for this key (${new Date(newest).toISOString()})` };
    }
    this.signedAt.set(entity, check.signedAt);
    return undefined;
  }

  private advance(partition: number, offset: string): void {
    this.position.set(partition, BigInt(offset) + 1n);
    const target = this.targets.get(partition);
    if (target !== undefined && BigInt(offset) + 1n >= target) {
      this.targets.delete(partition);
      if (this.targets.size === 0) this.markCaughtUp();
    }
  }

  /**
   * Resolves once everything on the topic now has been applied (concurrent callers share one sync).
   * Consumers call it before declaring a tenant key unknown.
   */
  syncToLatest(timeoutMs = 10_000): Promise<void> {
    this.syncing ??= this.doSync(timeoutMs).finally(() => (this.syncing = undefined));
    return this.syncing;
  }

  private async doSync(timeoutMs: number): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    let ends: { partition: number; low: bigint; high: bigint }[];
    try {
      ends = (await admin.fetchTopicOffsets(this.opts.contract.topic.name)).map((p) => ({ partition: p.partition, low: BigInt(p.low), high: BigInt(p.high) }));
    } finally {
      await admin.disconnect();
    }
    const deadline = Date.now() + timeoutMs;
    while (ends.some((e) => e.high > e.low && (this.position.get(e.partition) ?? 0n) < e.high)) {
      if (Date.now() > deadline) throw new Error('control topic sync timed out');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  private markCaughtUp(): void {
    if (this.done) return;
    this.done = true;
    for (const w of this.waiters.splice(0)) w();
  }

  async stop(): Promise<void> {
    await this.consumer.disconnect();
  }
}
