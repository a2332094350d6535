import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { Counter, type Registry } from 'prom-client';
import { seriesKey, type IngestBatch, type MetricPoint, type PlatformEvent, type TelemetryBatch, type TelemetryBatchMessage } from '@headroom/contracts';
import { recordKey, type OutgoingRecord } from '@headroom/kafka';
import { METRICS } from '@headroom/runtime';
import { TenantDirectory } from '@headroom/tenancy';

export const TELEMETRY_SINK = Symbol('TELEMETRY_SINK');

/** Where accepted batches go: the telemetry topic in production, an in-memory list in unit specs. */
export interface TelemetrySink {
  publish(records: OutgoingRecord<typeof TelemetryBatchMessage>[]): Promise<void>;
}

@Injectable()
export class IngestService {
  private readonly accepted: Counter<'tenant' | 'kind'>;

  constructor(
    @Inject(TELEMETRY_SINK) private readonly sink: TelemetrySink,
    @Inject(TenantDirectory) private readonly directory: TenantDirectory,
    @Inject(METRICS) metrics: Registry,
  ) {
    this.accepted = new Counter({
      name: 'headroom_ingest_accepted_total',
      help: 'Points and events accepted and durably published, per tenant.',
      labelNames: ['tenant', 'kind'],
      registers: [metrics],
    });
  }

  /**
   * Publishes one sealed record per batch (per shard for sharded tenants), after pseudonymising user
   * ids with the tenant's key. Resolves only once Kafka has acknowledged, so a 202 means durable.
   */
  async accept(tenant: string, batch: IngestBatch, traceparent?: string): Promise<{ batchId: string; records: number }> {
    const batchId = randomUUID();
    const shards = this.directory.tenant(tenant)?.shards ?? 1;
    const events = batch.events.map((e) => this.pseudonymise(tenant, e));
    const groups = new Map<string, { points: MetricPoint[]; events: PlatformEvent[] }>();
    const group = (key: string) => groups.get(key) ?? groups.set(key, { points: [], events: [] }).get(key)!;
    for (const p of batch.points) group(recordKey(tenant, shards, seriesKey(p.name, p.labels))).points.push(p);
    if (events.length) group(recordKey(tenant, shards, 'events')).events.push(...events);

    const receivedAt = Date.now();
    const records = [...groups.entries()].map(([key, g]) => {
      const value: TelemetryBatch = { batchId, source: 'http', receivedAt, points: g.points, events: g.events };
      return { tenant, key, value, traceparent };
    });
    await this.sink.publish(records);
    this.accepted.inc({ tenant, kind: 'point' }, batch.points.length);
    this.accepted.inc({ tenant, kind: 'event' }, batch.events.length);
    return { batchId, records: records.length };
  }

  private pseudonymise(tenant: string, event: PlatformEvent): PlatformEvent {
    if (event.type === 'song_play' || event.type === 'failed_login') {
      return { ...event, userId: this.directory.keyring.pseudonymise(tenant, event.userId) };
    }
    return event;
  }
}
