import { Inject, Injectable, Optional } from '@nestjs/common';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import {
  AggregateBatchMessage,
  DlqRecordMessage,
  resolveTenantLimits,
  seriesKey,
  SignalBatchMessage,
  Topics,
  type AggregateWindow,
  type Signal,
  type TelemetryBatch,
  type TenantLimits,
} from '@headroom/contracts';
import { CryptoError } from '@headroom/crypto';
import { ContractViolationError, PermanentError, type OutgoingRecord } from '@headroom/kafka';
import { LOGGER, METRICS, type Logger } from '@headroom/runtime';
import { TenantDirectory } from '@headroom/tenancy';
import { SignalsService } from '../signals/signals.service';
import { SubjectErasures } from '@headroom/tenancy';
import { SubjectEventsRepository } from '../erasure/subject-events.repository';
import { eventToPoints } from './event-metrics';
import { summarise, WindowAggregator, type ClosedWindow, type LatePoints } from './window-aggregator';
import { isDataError, RESOLUTIONS, WindowsRepository, writeOf, type WindowWrite } from './windows.repository';

export const AGGREGATE_SINK = Symbol('AGGREGATE_SINK');
export const CLOCK = Symbol('CLOCK');
export const WINDOW_BUDGETS = Symbol('WINDOW_BUDGETS');

export interface AggregateSink {
  publish(records: OutgoingRecord<typeof AggregateBatchMessage>[]): Promise<void>;
  publishSignals(records: OutgoingRecord<typeof SignalBatchMessage>[]): Promise<void>;
  /** Quarantine: a platform DLQ record (no tenant data in clear: the reason and where it came from). */
  quarantine(records: OutgoingRecord<typeof DlqRecordMessage>[]): Promise<void>;
}

export interface WindowBudgets {
  /** Closed windows + late points waiting for a flush beyond which consumption pauses. */
  maxUnsaved: number;
  /** Delay after a coarser window's end before its rollup is computed. */
  rollupDelayMs: number;
  /** The deployment's default tenant limits (tenant overrides from control win). */
  defaults: Partial<TenantLimits>;
  groupId: string;
}

/** A failure that is the tenant's data, not the infrastructure: quarantine instead of retrying. */
function isPermanent(err: unknown): boolean {
  return err instanceof PermanentError || err instanceof ContractViolationError || err instanceof CryptoError || isDataError(err);
}

/**
 * Feeds telemetry into the window aggregator and flushes: closed windows and late points merged
 * into their stored windows are published on headroom.aggregates.v1 (per tenant, split under the
 * record limit), then written with the streams' progress in one statement, in one transaction.
 * Whatever one tenant's data breaks — a record, a publish, a write — is quarantined to the DLQ
 * with its reason and counted for that tenant; the other tenants' windows go on.
 */
@Injectable()
export class WindowsService {
  private flushing: Promise<void> = Promise.resolve();
  private readonly unsaved: ClosedWindow[] = [];
  private readonly unsavedLate: LatePoints[] = [];
  private readonly pendingSignals: { tenant: string; signal: Signal }[] = [];
  private readonly progressLoads = new Map<string, Promise<void>>();
  private readonly metrics: {
    windows: Counter<'outcome'>;
    points: Counter<'tenant' | 'outcome'>;
    discarded: Counter<'tenant' | 'reason'>;
    open: Gauge;
    unsaved: Gauge;
    signals: Counter;
    latency: Histogram;
    flushFailures: Counter<'kind'>;
  };

  constructor(
    @Inject(WindowAggregator) readonly aggregator: WindowAggregator,
    @Inject(WindowsRepository) private readonly repo: WindowsRepository,
    @Inject(AGGREGATE_SINK) private readonly sink: AggregateSink,
    @Inject(TenantDirectory) private readonly directory: TenantDirectory,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(CLOCK) private readonly now: () => number,
    @Inject(METRICS) registry: Registry,
    @Inject(SignalsService) private readonly signals: SignalsService,
    @Inject(WINDOW_BUDGETS) private readonly budgets: WindowBudgets,
    // GDPR (apps/analytics/src/erasure): the subjects' events are kept, erased subjects' windows dropped.
    @Optional() @Inject(SubjectEventsRepository) private readonly subjectEvents?: SubjectEventsRepository,
    @Optional() @Inject(SubjectErasures) private readonly subjectErasures?: SubjectErasures,
  ) {
    this.metrics = {
      windows: new Counter({ name: 'headroom_analytics_windows_total', help: 'Windows persisted, by outcome (closed, revised, quarantined).', labelNames: ['outcome'], registers: [registry] }),
      points: new Counter({ name: 'headroom_analytics_points_total', help: 'Points by tenant and outcome (windowed, late = merged into a published window).', labelNames: ['tenant', 'outcome'], registers: [registry] }),
      discarded: new Counter({
        name: 'headroom_discarded_samples_total',
        help: 'Samples analytics could not keep, by tenant and reason (sample_too_old, too_far_in_future, quarantined).',
        labelNames: ['tenant', 'reason'],
        registers: [registry],
      }),
      open: new Gauge({ name: 'headroom_analytics_open_windows', help: 'Windows currently open in memory.', registers: [registry] }),
      unsaved: new Gauge({ name: 'headroom_analytics_unsaved_windows', help: 'Closed windows and late points waiting to be persisted.', registers: [registry] }),
      signals: new Counter({ name: 'headroom_analytics_anomaly_signals_total', help: 'Anomaly signals published on headroom.signals.v1.', registers: [registry] }),
      latency: new Histogram({
        name: 'headroom_analytics_close_to_persist_seconds',
        help: 'From a window closing in memory to it being published and stored.',
        buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
        registers: [registry],
      }),
      flushFailures: new Counter({ name: 'headroom_analytics_flush_failures_total', help: 'Flushes that failed and will be retried (infrastructure).', labelNames: ['kind'], registers: [registry] }),
    };
    // Registered before the control topic is read, so no erasure can slip by. Queued behind any
    // flush in progress: a save that began before the erasure would otherwise commit the tenant's
    // rows after the delete. Flushes queued after it skip the tenant (isErased).
    this.directory.onRecord((r) => {
      if (r.kind === 'tenant_erased') {
        this.signals.forgetTenant(r.tenant);
        this.aggregator.forgetTenant(r.tenant);
        this.flushing = this.flushing
          .then(() => this.repo.deleteTenant(r.tenant))
          .then(() => this.signals.deleteTenant(r.tenant))
          .catch((err) => this.logger.error({ tenant: r.tenant, err: String(err) }, 'could not delete erased tenant windows'));
      }
    });
  }

  async restore(): Promise<void> {
    await this.repo.migrate();
    const now = this.now();
    for (const r of RESOLUTIONS) await this.repo.ensurePartitions(r, [now - 8 * 86_400_000, now - 86_400_000, now, now + 86_400_000]);
  }

  limitsOf(tenant: string): TenantLimits {
    return resolveTenantLimits(this.directory.tenant(tenant)?.limits, this.budgets.defaults);
  }

  /** Loads a stream's persisted progress the first time one of its records is handled (after boot or an assignment). */
  private async openStream(tenant: string, partition: number): Promise<void> {
    if (this.aggregator.hasStream(tenant, partition)) return;
    const key = `${tenant}\u0000${partition}`;
    let load = this.progressLoads.get(key);
    if (!load) {
      load = this.repo.loadProgress(tenant, partition).then((until) => this.aggregator.openStream(tenant, partition, until));
      this.progressLoads.set(key, load);
      load.finally(() => this.progressLoads.delete(key)).catch(() => undefined);
    }
    await load;
  }

  async ingest(tenant: string, batch: TelemetryBatch, source: { partition: number; offset: string }): Promise<void> {
    await this.openStream(tenant, source.partition);
    const src = { partition: source.partition, offset: Number(source.offset) };
    // A record this member's memory already holds (re-fetched after a rebalance that left it the partition): counting it again would double it.
    if (this.aggregator.hasHandled(tenant, src.partition, src.offset)) return;
    const now = this.now();
    const limits = this.limitsOf(tenant);
    const counts = { windowed: 0, late: 0, sample_too_old: 0, too_far_in_future: 0 };
    const add = (p: TelemetryBatch['points'][number]) => counts[this.aggregator.add(tenant, p, src, batch.receivedAt, now, limits)]++;
    for (const p of batch.points) add(p);
    for (const e of batch.events) for (const p of eventToPoints(e)) add(p);
    // Before markHandled: if the write fails the record is handled again (its rows are keyed by offset).
    if (this.subjectEvents && batch.events.length) await this.subjectEvents.record(tenant, batch.events, src);
    this.aggregator.markHandled(tenant, src.partition, src.offset);
    if (counts.windowed) this.metrics.points.inc({ tenant, outcome: 'windowed' }, counts.windowed);
    if (counts.late) this.metrics.points.inc({ tenant, outcome: 'late' }, counts.late);
    if (counts.sample_too_old) this.metrics.discarded.inc({ tenant, reason: 'sample_too_old' }, counts.sample_too_old);
    if (counts.too_far_in_future) this.metrics.discarded.inc({ tenant, reason: 'too_far_in_future' }, counts.too_far_in_future);
  }

  /** More waiting to be persisted than the budget: the consumer pauses until a flush drains it. */
  overBudget(): boolean {
    return this.unsaved.length + this.unsavedLatePoints() + this.aggregator.latePoints() > this.budgets.maxUnsaved;
  }

  private unsavedLatePoints(): number {
    let n = 0;
    for (const l of this.unsavedLate) n += l.values.length;
    return n;
  }

  /** After a rebalance (queued behind any flush in progress): drop what moved to another member. */
  retainPartitions(assigned: { topic: string; partition: number }[]): Promise<void> {
    const owned = new Set(assigned.filter((a) => a.topic === Topics.telemetry.name).map((a) => a.partition));
    this.flushing = this.flushing.then(async () => {
      // Detector state of the partitions that left is saved before it is dropped, for their new owner.
      await this.signals.retainPartitions(owned).catch((err) => this.logger.warn({ err: String(err) }, 'could not save detector state of revoked partitions'));
      this.aggregator.retainPartitions(owned);
      // In place, without spreading (a backlog can hold more windows than a call's arguments).
      retainInPlace(this.unsaved, (c) => owned.has(c.partition));
      retainInPlace(this.unsavedLate, (l) => owned.has(l.partition));
    });
    return this.flushing;
  }

  /** Closes due windows and persists them; serialised so flushes never overlap. */
  flush(caughtUp = true): Promise<void> {
    this.flushing = this.flushing
      .then(() => this.flushOnce(caughtUp))
      .catch((err) => {
        this.metrics.flushFailures.inc({ kind: 'retried' });
        this.logger.warn({ err: String(err), pending: this.unsaved.length }, 'flush failed; will retry');
      });
    return this.flushing;
  }

  private closedAt = new WeakMap<ClosedWindow, number>();

  private async flushOnce(caughtUp: boolean): Promise<void> {
    const now = this.now();
    // A tenant's open windows are bounded by twice its active-series limit (two windows per series at a boundary).
    const closed = this.aggregator.closeDue(now, caughtUp, (tenant) => 2 * this.limitsOf(tenant).maxActiveSeries);
    this.dropErasedSubjects(closed);
    for (const c of closed) this.closedAt.set(c, now);
    // Not push(...xs): a backlog can close 100k+ windows at once, more arguments than the stack holds.
    for (const c of closed) this.unsaved.push(c);
    const takenLate = this.aggregator.takeLate();
    this.dropErasedSubjects([], takenLate);
    for (const l of takenLate) this.unsavedLate.push(l);
    // Each window feeds its tenant's detectors once, when it first closes (in window order per series).
    const fed = closed.sort((a, b) => a.window.windowStart - b.window.windowStart).filter((c) => !this.directory.isErased(c.tenant));
    for (const s of await this.signals.observe(fed, (tenant) => this.limitsOf(tenant).maxDetectorSeries)) this.pendingSignals.push(s);
    this.metrics.open.set(this.aggregator.openWindows());
    this.metrics.unsaved.set(this.unsaved.length + this.unsavedLatePoints());
    if (this.unsaved.length === 0 && this.unsavedLate.length === 0) return;

    const batch = this.unsaved.slice().filter((c) => !this.directory.isErased(c.tenant));
    const late = this.mergeIntoBatch(batch, this.unsavedLate.slice().filter((l) => !this.directory.isErased(l.tenant)));
    const taken = { windows: this.unsaved.length, late: this.unsavedLate.length };
    // Windows whose sum left the finite range (the edge bounds values, so only a producer that
    // skipped it can do this) cannot be encoded: quarantined alone.
    const overflowed = batch.filter((c) => !Number.isFinite(c.window.sum));
    const good = batch.filter((c) => Number.isFinite(c.window.sum));
    if (overflowed.length) await this.quarantine(overflowed.map((c) => ({ tenant: c.tenant, partition: c.partition, offset: c.firstOffset, points: c.window.count })), 'sum_overflow', 'the window sum is not a finite number');

    for (const r of RESOLUTIONS.slice(0, 1)) await this.repo.ensurePartitions(r, [...good.map((c) => c.window.windowStart), ...late.map((l) => l.windowStart)]);
    const tenants = [...new Set([...good.map((c) => c.tenant), ...late.map((l) => l.tenant)])];
    try {
      await this.persist(good, late);
    } catch (err) {
      if (!isDataError(err)) throw err;
      // One tenant's data broke the statement: write tenant by tenant, quarantine whose fails.
      for (const tenant of tenants) {
        const ws = good.filter((c) => c.tenant === tenant);
        const ls = late.filter((l) => l.tenant === tenant);
        try {
          await this.persist(ws, ls);
        } catch (e) {
          if (!isDataError(e)) throw e;
          await this.quarantineTenant(tenant, ws, ls, `storing the windows failed: ${String(e)}`);
        }
      }
    }
    await this.publishSignals();
    // Only now: a checkpoint never vouches for windows that are not stored.
    await this.signals.checkpoint();
    this.unsaved.splice(0, taken.windows);
    this.unsavedLate.splice(0, taken.late);
    this.aggregator.acknowledge(batch, late);
    this.aggregator.acknowledge(overflowed);
    const done = this.now();
    for (const c of good) this.metrics.latency.observe((done - (this.closedAt.get(c) ?? done)) / 1000);
    this.metrics.unsaved.set(this.unsaved.length + this.unsavedLatePoints());
  }

  /**
   * Runs `work` queued behind any flush in progress (and before the next): an erasure's deletes
   * cannot then be overwritten by a flush that read its windows before them.
   */
  exclusive<T>(work: () => Promise<T>): Promise<T> {
    const done = this.flushing.then(work);
    this.flushing = done.then(
      () => undefined,
      () => undefined,
    );
    return done;
  }

  /** Windows and late points of a subject erased since they began are never stored (and release their commits). */
  private dropErasedSubjects(closed: ClosedWindow[], late: LatePoints[] = []): void {
    const erasures = this.subjectErasures;
    if (!erasures) return;
    const windows = erasures.take(closed, (c) => erasures.coversLabels(c.tenant, c.window.series.labels, c.window.windowStart));
    const points = erasures.take(late, (l) => erasures.coversLabels(l.tenant, l.labels, l.windowStart));
    if (windows.length || points.length) this.aggregator.acknowledge(windows, points);
  }

  /** Late points for windows still in this flush's batch go straight into them (they are not stored yet). */
  private mergeIntoBatch(batch: ClosedWindow[], late: LatePoints[]): LatePoints[] {
    if (late.length === 0) return late;
    const byKey = new Map(batch.map((c) => [`${c.tenant}\u0000${c.window.seriesId}\u0000${c.window.windowStart}`, c]));
    const rest: LatePoints[] = [];
    for (const l of late) {
      const c = byKey.get(`${l.tenant}\u0000${l.seriesId}\u0000${l.windowStart}`);
      if (!c) {
        rest.push(l);
        continue;
      }
      for (let i = 0; i < l.values.length; i++) {
        c.sketch.accept(l.values[i]);
        if (l.offsets[i] > c.lastOffset) c.lastOffset = l.offsets[i];
      }
      c.window = summarise({ id: c.window.seriesId, name: c.window.series.name, labels: c.window.series.labels, unit: c.window.unit }, c.window.windowStart, c.sketch, c.window.windowMs);
    }
    return rest;
  }

  /**
   * One transaction: lock and merge the stored windows that late points belong to, publish every
   * window (per tenant; a tenant whose publish is refused for good is quarantined), then write the
   * windows and the progress in one statement. A crash anywhere replays the same result.
   */
  private async persist(closed: ClosedWindow[], late: LatePoints[]): Promise<void> {
    const quarantined = new Set<string>();
    await this.repo.transaction(async (db) => {
      const merged = await this.repo.mergeLate(db, late, this.aggregator.windowMs);
      const writes: WindowWrite[] = [...closed.map(writeOf), ...merged.writes];
      const published = await this.publishPerTenant(writes);
      for (const [tenant, err] of published.failed) {
        quarantined.add(tenant);
        await this.quarantineTenant(tenant, closed.filter((c) => c.tenant === tenant), late.filter((l) => l.tenant === tenant), `publishing the windows failed: ${String(err)}`);
      }
      const kept = writes.filter((w) => !quarantined.has(w.tenant));
      const partitions = new Set<string>();
      for (const w of [...closed, ...late]) if (!quarantined.has(w.tenant)) partitions.add(`${w.tenant}\u0000${w.partition}`);
      const progress = this.aggregator.progressOf([...partitions].map((k): [string, number] => [k.split('\u0000')[0], Number(k.split('\u0000')[1])]));
      if (kept.length || progress.length) await this.repo.saveWindows(db, kept, progress, this.budgets.rollupDelayMs);
      this.metrics.windows.inc({ outcome: 'closed' }, kept.length - merged.writes.filter((w) => !quarantined.has(w.tenant)).length);
      this.metrics.windows.inc({ outcome: 'revised' }, merged.writes.filter((w) => !quarantined.has(w.tenant)).length);
    });
  }

  /** Publishes each tenant's windows on its own, so one tenant's refusal never holds another's. */
  private async publishPerTenant(writes: WindowWrite[]): Promise<{ failed: Map<string, unknown> }> {
    const byTenant = new Map<string, WindowWrite[]>();
    for (const w of writes) groupInto(byTenant, w.tenant, w);
    const failed = new Map<string, unknown>();
    const results = await Promise.allSettled(
      [...byTenant].map(async ([tenant, ws]) => {
        const shards = this.directory.tenant(tenant)?.shards ?? 1;
        // Keep each series on its shard, as on the telemetry topic.
        const byKey = new Map<string, AggregateWindow[]>();
        for (const w of ws) groupInto(byKey, shards > 1 ? seriesKey(w.window.series.name, w.window.series.labels) : '', w.window);
        const records = [...byKey].map(([k, windows]) => ({ tenant, shards, shardBy: k || undefined, value: { windows } }));
        try {
          await this.sink.publish(chunk(records));
        } catch (err) {
          if (!isPermanent(err)) throw err;
          failed.set(tenant, err);
        }
      }),
    );
    const transient = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (transient) throw transient.reason;
    return { failed };
  }

  private async quarantineTenant(tenant: string, closed: ClosedWindow[], late: LatePoints[], reason: string): Promise<void> {
    const items = [
      ...closed.map((c) => ({ tenant, partition: c.partition, offset: c.firstOffset, points: c.window.count })),
      ...late.map((l) => ({ tenant, partition: l.partition, offset: l.offsets[0], points: l.values.length })),
    ];
    await this.quarantine(items, 'window_quarantined', reason);
  }

  /** DLQ entries (one per tenant and partition, pointing at the first record involved) and counters. */
  private async quarantine(items: { tenant: string; partition: number; offset: number; points: number }[], code: string, reason: string): Promise<void> {
    if (items.length === 0) return;
    const groups = new Map<string, { tenant: string; partition: number; offset: number; points: number; windows: number }>();
    for (const i of items) {
      const k = `${i.tenant}\u0000${i.partition}`;
      const g = groups.get(k) ?? { tenant: i.tenant, partition: i.partition, offset: i.offset, points: 0, windows: 0 };
      g.offset = Math.min(g.offset, i.offset);
      g.points += i.points;
      g.windows++;
      groups.set(k, g);
    }
    await this.sink.quarantine(
      [...groups.values()].map((g) => ({
        key: g.tenant,
        value: {
          failedAt: new Date(this.now()).toISOString(),
          service: 'analytics',
          consumerGroup: this.budgets.groupId,
          reason: `${g.windows} window(s), ${g.points} point(s) of tenant ${g.tenant}: ${reason}`.slice(0, 2000),
          code,
          source: { topic: Topics.telemetry.name, partition: g.partition, offset: String(g.offset), key: g.tenant, headers: { 'hr-tenant': g.tenant } },
          value: null,
        },
      })),
    );
    for (const g of groups.values()) {
      this.metrics.discarded.inc({ tenant: g.tenant, reason: code }, g.points);
      this.metrics.windows.inc({ outcome: 'quarantined' }, g.windows);
      this.logger.warn({ tenant: g.tenant, partition: g.partition, code, windows: g.windows, points: g.points }, 'windows quarantined to the DLQ');
    }
  }

  /** Anomaly signals go out with the windows that raised them, one record per tenant. */
  private async publishSignals(): Promise<void> {
    if (this.pendingSignals.length === 0) return;
    const pending = this.pendingSignals.slice();
    const byTenant = new Map<string, Signal[]>();
    for (const p of pending) if (!this.directory.isErased(p.tenant)) groupInto(byTenant, p.tenant, p.signal);
    const results = await Promise.allSettled([...byTenant].map(([tenant, signals]) => this.sink.publishSignals(chunk([{ tenant, value: { signals } }]))));
    const transient = results.find((r): r is PromiseRejectedResult => r.status === 'rejected' && !isPermanent(r.reason));
    if (transient) throw transient.reason;
    this.pendingSignals.splice(0, pending.length);
    this.metrics.signals.inc(pending.length);
  }
}

/** Records of at most 10,000 windows (the schema's bound); the publisher splits further by bytes. */
function chunk<T extends { value: { windows: unknown[] } | { signals: unknown[] } }>(records: T[]): T[] {
  const out: T[] = [];
  for (const r of records) {
    const [field, items] = 'windows' in r.value ? ['windows', r.value.windows] : ['signals', r.value.signals];
    for (let i = 0; i < items.length; i += 10_000) out.push({ ...r, value: { [field]: items.slice(i, i + 10_000) } } as T);
  }
  return out;
}


function groupInto<K, V>(groups: Map<K, V[]>, key: K, value: V): void {
  const group = groups.get(key);
  if (group) group.push(value);
  else groups.set(key, [value]);
}

/** Keeps the items that pass `keep`, in order, in the same array. */
function retainInPlace<T>(items: T[], keep: (item: T) => boolean): void {
  let n = 0;
  for (const item of items) if (keep(item)) items[n++] = item;
  items.length = n;
}
