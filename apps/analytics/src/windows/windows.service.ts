import { Inject, Injectable } from '@nestjs/common';
import { Counter, Gauge, type Registry } from 'prom-client';
import { AggregateBatchMessage, seriesKey, SignalBatchMessage, type Signal, type TelemetryBatch } from '@headroom/contracts';
import { SeriesAnomalies } from '../signals/series-anomalies';
import type { OutgoingRecord } from '@headroom/kafka';
import { LOGGER, METRICS, type Logger } from '@headroom/runtime';
import { TenantDirectory } from '@headroom/tenancy';
import { AggregatesRepository } from './aggregates.repository';
import { eventToPoints } from './event-metrics';
import { WindowAggregator, type ClosedWindow, type SourceOffset } from './window-aggregator';

export const AGGREGATE_SINK = Symbol('AGGREGATE_SINK');
export const CLOCK = Symbol('CLOCK');

export interface AggregateSink {
  publish(records: OutgoingRecord<typeof AggregateBatchMessage>[]): Promise<void>;
  publishSignals(records: OutgoingRecord<typeof SignalBatchMessage>[]): Promise<void>;
}

/**
 * Feeds telemetry into the window aggregator and flushes closed windows: publish to
 * headroom.aggregates.v1 first, then upsert them with the tenant's progress. A crash between the two
 * republishes the same windows on replay (consumers are idempotent per tenant+series+window); the
 * reverse order could lose them.
 */
@Injectable()
export class WindowsService {
  private flushing: Promise<void> = Promise.resolve();
  private readonly unsaved: ClosedWindow[] = [];
  private readonly pendingSignals: { tenant: string; signal: Signal }[] = [];
  private readonly metrics: { windows: Counter; points: Counter<'outcome'>; open: Gauge; signals: Counter };

  constructor(
    @Inject(WindowAggregator) readonly aggregator: WindowAggregator,
    @Inject(AggregatesRepository) private readonly repo: AggregatesRepository,
    @Inject(AGGREGATE_SINK) private readonly sink: AggregateSink,
    @Inject(TenantDirectory) private readonly directory: TenantDirectory,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(CLOCK) private readonly now: () => number,
    @Inject(METRICS) registry: Registry,
    @Inject(SeriesAnomalies) private readonly anomalies: SeriesAnomalies,
  ) {
    this.metrics = {
      windows: new Counter({ name: 'headroom_analytics_windows_closed_total', help: 'Windows closed and persisted.', registers: [registry] }),
      points: new Counter({ name: 'headroom_analytics_points_total', help: 'Points by outcome (windowed, late).', labelNames: ['outcome'], registers: [registry] }),
      open: new Gauge({ name: 'headroom_analytics_open_windows', help: 'Windows currently open in memory.', registers: [registry] }),
      signals: new Counter({ name: 'headroom_analytics_anomaly_signals_total', help: 'Anomaly signals published on headroom.signals.v1.', registers: [registry] }),
    };
    // Registered before the control topic is read, so no erasure can slip by.
    // Erasure: the tenant's keys are shredded by the directory; its stored windows go too. Queued
    // behind any flush in progress: a save that began before the erasure would otherwise commit the
    // tenant's rows after the delete. Flushes queued after it skip the tenant (isErased).
    this.directory.onRecord((r) => {
      if (r.kind === 'tenant_erased') {
        this.anomalies.forgetTenant(r.tenant);
        this.flushing = this.flushing
          .then(() => this.repo.deleteTenant(r.tenant))
          .catch((err) => this.logger.error({ tenant: r.tenant, err: String(err) }, 'could not delete erased tenant windows'));
      }
    });
  }

  async restore(): Promise<void> {
    await this.repo.migrate();
    for (const [tenant, until] of await this.repo.loadProgress()) this.aggregator.restoreProgress(tenant, until);
  }

  ingest(tenant: string, batch: TelemetryBatch, source: SourceOffset): void {
    const now = this.now();
    let windowed = 0;
    let late = 0;
    const points = batch.points.concat(batch.events.flatMap(eventToPoints));
    for (const p of points) {
      if (this.aggregator.add(tenant, p, source, now)) windowed++;
      else late++;
    }
    this.metrics.points.inc({ outcome: 'windowed' }, windowed);
    if (late) this.metrics.points.inc({ outcome: 'late' }, late);
  }

  /** After a rebalance (queued behind any flush in progress): drop what moved to another member. */
  retainPartitions(assigned: { topic: string; partition: number }[]): Promise<void> {
    const owned = new Set(assigned.map((a) => `${a.topic}:${a.partition}`));
    this.flushing = this.flushing.then(() => {
      this.aggregator.retainPartitions(owned);
      const kept = this.unsaved.filter((c) => owned.has(`${c.source.topic}:${c.source.partition}`));
      this.unsaved.splice(0, this.unsaved.length, ...kept);
    });
    return this.flushing;
  }

  /** Closes due windows and persists them; serialised so flushes never overlap. */
  flush(caughtUp = true): Promise<void> {
    this.flushing = this.flushing.then(() => this.flushOnce(caughtUp)).catch((err) => {
      this.logger.warn({ err: String(err), pending: this.unsaved.length }, 'flush failed; will retry');
    });
    return this.flushing;
  }

  private async flushOnce(caughtUp: boolean): Promise<void> {
    const closed = this.aggregator.closeDue(this.now(), caughtUp);
    this.unsaved.push(...closed);
    // Each window feeds its series' detector once, when it closes (in window order per series).
    for (const c of closed.sort((a, b) => a.window.windowStart - b.window.windowStart)) {
      if (this.directory.isErased(c.tenant)) continue;
      const signal = this.anomalies.observe(c.tenant, c.window);
      if (signal) this.pendingSignals.push({ tenant: c.tenant, signal });
    }
    this.metrics.open.set(this.aggregator.openWindows());
    if (this.unsaved.length === 0) return;
    const batch = this.unsaved.slice();
    const byTenant = new Map<string, ClosedWindow[]>();
    for (const c of batch) groupInto(byTenant, c.tenant, c);
    const records: OutgoingRecord<typeof AggregateBatchMessage>[] = [];
    for (const [tenant, windows] of byTenant) {
      if (this.directory.isErased(tenant)) continue;
      const shards = this.directory.tenant(tenant)?.shards ?? 1;
      // Keep each series on its shard, as on the telemetry topic.
      const byKey = new Map<string, ClosedWindow[]>();
      for (const c of windows) {
        const k = shards > 1 ? seriesKey(c.window.series.name, c.window.series.labels) : '';
        groupInto(byKey, k, c);
      }
      for (const [k, ws] of byKey) {
        for (let i = 0; i < ws.length; i += 1000) {
          records.push({ tenant, shards, shardBy: k || undefined, value: { windows: ws.slice(i, i + 1000).map((c) => c.window) } });
        }
      }
    }
    await this.sink.publish(records);
    await this.publishSignals();
    // An erased tenant leaves nothing keyed by its id behind, progress included.
    const progress = new Map([...byTenant.keys()].filter((t) => !this.directory.isErased(t)).map((t) => [t, this.aggregator.progress(t)]));
    await this.repo.save(batch.filter((c) => !this.directory.isErased(c.tenant)), progress);
    this.unsaved.splice(0, batch.length);
    this.aggregator.acknowledge(batch);
    this.metrics.windows.inc(batch.length);
  }

  /** Anomaly signals go out with the windows that raised them, one record per tenant. */
  private async publishSignals(): Promise<void> {
    if (this.pendingSignals.length === 0) return;
    const pending = this.pendingSignals.slice();
    const byTenant = new Map<string, Signal[]>();
    for (const p of pending) if (!this.directory.isErased(p.tenant)) groupInto(byTenant, p.tenant, p.signal);
    await this.sink.publishSignals([...byTenant].map(([tenant, signals]) => ({ tenant, value: { signals } })));
    this.pendingSignals.splice(0, pending.length);
    this.metrics.signals.inc(pending.length);
  }
}

function groupInto<K, V>(groups: Map<K, V[]>, key: K, value: V): void {
  const group = groups.get(key);
  if (group) group.push(value);
  else groups.set(key, [value]);
}
