import { CompressionTypes, Partitioners, type Kafka, type Producer } from 'kafkajs';
import type { Counter } from 'prom-client';
import type { MessageContract, MessageOf } from '@headroom/contracts';
import type { TenantKeyring } from '@headroom/crypto';
import { encodeRecord } from './codec';
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

/**
 * Typed, validated publishing. The producer is idempotent (no duplicates from its own retries) and
 * waits for all in-sync replicas, so a resolved `publish` means the records are durable.
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

  async publish<C extends MessageContract>(contract: C, records: OutgoingRecord<C>[]): Promise<void> {
    if (records.length === 0) return;
    // Encode everything first: one invalid payload means nothing of this call is sent.
    const messages = records.map((r) => {
      const key = r.key ?? (r.tenant ? recordKey(r.tenant, r.shards, r.shardBy) : undefined);
      if (!key) throw new Error(`${contract.id}: a key or a tenant is required`);
      return encodeRecord(contract, r.value, { key, tenant: r.tenant, keyring: this.keyring, traceparent: r.traceparent });
    });
    await this.producer.send({
      topic: contract.topic.name,
      acks: -1,
      compression: CompressionTypes.GZIP,
      messages: messages.map((m) => ({ key: m.key, value: m.value, headers: m.headers })),
    });
    this.produced?.inc({ topic: contract.topic.name }, messages.length);
  }

  async disconnect(): Promise<void> {
    if (!this.connected) return;
    this.connected = false;
    await this.producer.disconnect();
  }
}
