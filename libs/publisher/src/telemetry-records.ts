import { randomUUID } from 'node:crypto';
import { seriesKey, type IngestBatch, type MetricPoint, type PlatformEvent, type TelemetryBatch, type TelemetryBatchMessage } from '@headroom/contracts';
import type { TenantKeyring } from '@headroom/crypto';
import { recordKey, type OutgoingRecord } from '@headroom/kafka';

/**
 * How a validated batch becomes records on headroom.telemetry.v1 — one definition for every way in
 * (the HTTP edge in apps/collectors and the publisher library), so both pseudonymise, group and
 * split exactly alike.
 */

/** Events that carry a user id (pseudonymised before they reach Kafka). */
const WITH_USER_ID = new Set<PlatformEvent['type']>(['song_play', 'failed_login']);

/**
 * The event with its `userId` replaced by the tenant's pseudonym (`u_` + HMAC-SHA256 under the
 * tenant's pseudonym key, see docs/crypto.md); events without a user id are returned as they are.
 * Throws the keyring's UnknownTenantKeyError when the tenant has no pseudonym key.
 */
export function pseudonymiseEvent(keyring: Pick<TenantKeyring, 'pseudonymise'>, tenant: string, event: PlatformEvent): PlatformEvent {
  if (WITH_USER_ID.has(event.type) && 'userId' in event) return { ...event, userId: keyring.pseudonymise(tenant, event.userId) };
  return event;
}

export interface TelemetryRecordsOptions {
  tenant: string;
  /** The tenant's shard count (TenantRecord.shards): points are keyed `tenant#k` by series when > 1. */
  shards: number;
  /** Where the batch came from (`http`, `publisher`, …): TelemetryBatch.source. */
  source: string;
  batchId?: string;
  receivedAt?: number;
  traceparent?: string;
  /** `seriesKey` of each point, when the caller has computed them already (same order as the points). */
  seriesKeys?: readonly string[];
}

/**
 * One record per record key: the whole batch under the tenant's key, or — for a sharded tenant —
 * one record per shard its series fall on, plus the events on the `events` shard. Events must be
 * pseudonymised already (see `pseudonymiseEvent`). Order within each record is kept.
 */
export function telemetryRecords(batch: IngestBatch, opts: TelemetryRecordsOptions): { batchId: string; records: OutgoingRecord<typeof TelemetryBatchMessage>[] } {
  const batchId = opts.batchId ?? randomUUID();
  const { tenant, shards } = opts;
  const groups = new Map<string, { points: MetricPoint[]; events: PlatformEvent[] }>();
  const group = (key: string) => groups.get(key) ?? groups.set(key, { points: [], events: [] }).get(key)!;
  if (shards <= 1) {
    if (batch.points.length || batch.events.length) groups.set(tenant, { points: batch.points, events: batch.events });
  } else {
    batch.points.forEach((p, i) => group(recordKey(tenant, shards, opts.seriesKeys?.[i] ?? seriesKey(p.name, p.labels))).points.push(p));
    if (batch.events.length) group(recordKey(tenant, shards, 'events')).events.push(...batch.events);
  }
  const receivedAt = opts.receivedAt ?? Date.now();
  const records = [...groups.entries()].map(([key, g]) => {
    const value: TelemetryBatch = { batchId, source: opts.source, receivedAt, points: g.points, events: g.events };
    return { tenant, key, value, traceparent: opts.traceparent };
  });
  return { batchId, records };
}

/**
 * Halves a telemetry record that is too large for one Kafka record: points and events are shared
 * out so both halves are non-empty and smaller, each item in exactly one half, order kept.
 * (`RecordPublisher.publish(TelemetryBatchMessage, records, { split: splitTelemetryBatch })`.)
 */
export function splitTelemetryBatch(value: TelemetryBatch): [TelemetryBatch, TelemetryBatch] | undefined {
  const p = value.points.length;
  const e = value.events.length;
  if (p + e < 2) return undefined;
  const hp = Math.ceil(p / 2);
  const he = Math.floor(e / 2);
  return [
    { ...value, points: value.points.slice(0, hp), events: value.events.slice(0, he) },
    { ...value, points: value.points.slice(hp), events: value.events.slice(he) },
  ];
}
