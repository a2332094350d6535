import { seriesId, WindowSketch, type AggregateWindow, type Labels, type MetricPoint } from '@headroom/contracts';

/** Where a point came from: the telemetry partition and the offset of its record. */
export interface PointSource {
  partition: number;
  offset: number;
}

/** A closed 10 s window, ready to publish and persist, with the record range that fed it. */
export interface ClosedWindow {
  tenant: string;
  partition: number;
  window: AggregateWindow;
  /** Kept for merging late points into it before it is saved. */
  sketch: WindowSketch;
  firstOffset: number;
  lastOffset: number;
}

/**
 * Points that arrived for a window already closed on their stream: kept raw, each with the offset
 * of its record, until the next flush merges them into the stored window (as a new revision). The
 * offsets let the merge skip what the stored window already holds, so a replay never counts twice.
 */
export interface LatePoints {
  tenant: string;
  partition: number;
  seriesId: string;
  name: string;
  labels: Labels;
  unit?: string;
  windowStart: number;
  values: number[];
  offsets: number[];
}

export type AddOutcome = 'windowed' | 'late' | 'sample_too_old' | 'too_far_in_future';

export interface WindowAggregatorOptions {
  windowMs: number;
  /** How long after a window's end (event time) points may still arrive before it closes. */
  allowedLatenessMs: number;
  /** A stream silent this long (wall clock) has its windows closed by the clock instead of by data. */
  idleCloseMs: number;
}

/** Per-tenant limits the aggregator applies (resolved from control by the caller). */
export interface StreamLimits {
  maxSampleAgeMs: number;
  creationGracePeriodMs: number;
}

interface OpenWindow {
  start: number;
  /** Count, sum, min, max (exact) and the quantile bins. */
  sketch: WindowSketch;
  firstOffset: number;
  lastOffset: number;
}

interface SeriesState {
  id: string;
  name: string;
  labels: Labels;
  unit?: string;
  open: Map<number, OpenWindow>;
  /** Stream time (`now`) of its last point: a series without open windows and idle is forgotten. */
  lastSeen: number;
  /** Its keys in byRawKey (one per label order seen), so forgetting it frees them. */
  rawKeys: string[];
}

/** One tenant's records on one partition: ordered, so watermarks and progress are kept per stream. */
interface Stream {
  tenant: string;
  partition: number;
  /** Newest event time seen, never beyond the record's receive time (or the clock) plus the grace period. */
  watermark: number;
  /** Windows starting before this are final on the stream: later points for them are late. */
  closedUntil: number;
  lastSeen: number;
  /**
   * Offsets of the first and newest records this stream took (-1: none yet). A stream takes its
   * tenant's records in partition order, so every one between them went into its windows (open,
   * closed, late or stored): a record in that range coming again is a replay, not new data.
   */
  handledFrom: number;
  handledUpTo: number;
  /** Raw label order → series, then canonical id → series (one state per series whatever the order). */
  byRawKey: Map<string, SeriesState>;
  byId: Map<string, SeriesState>;
  openWindows: number;
}

const streamKey = (tenant: string, partition: number) => `${tenant}\u0000${partition}`;
const windowKey = (tenant: string, id: string, start: number) => `${tenant}\u0000${id}\u0000${start}`;

/**
 * Tumbling windows per tenant, partition and series, with count, sum, min, max and a DDSketch (WindowSketch).
 * A stream's windows close when its event-time watermark passes their end plus the allowed
 * lateness, or by the clock once the stream goes quiet (and nothing is queued behind), or early
 * when the stream holds more open windows than its budget. Closing early is always safe: points
 * that arrive for a closed window are kept as late points and merged into it at the next flush.
 */
export class WindowAggregator {
  private readonly streams = new Map<string, Stream>();
  private readonly late = new Map<string, LatePoints>();
  private latePointCount = 0;
  /** Closed windows not yet persisted, by window key: they hold commits back until acknowledged. */
  private readonly pending = new Map<string, ClosedWindow>();
  /** Late points taken by a flush and not yet persisted: they hold commits back too. */
  private readonly pendingLate = new Set<LatePoints>();
  private openTotal = 0;

  constructor(private readonly opts: WindowAggregatorOptions) {}

  get windowMs(): number {
    return this.opts.windowMs;
  }

  hasStream(tenant: string, partition: number): boolean {
    return this.streams.has(streamKey(tenant, partition));
  }

  /** Opens a stream with its persisted progress (windows before `closedUntil` are final). */
  openStream(tenant: string, partition: number, closedUntil: number): void {
    const key = streamKey(tenant, partition);
    if (this.streams.has(key)) return;
    this.streams.set(key, { tenant, partition, watermark: 0, closedUntil, lastSeen: 0, handledFrom: -1, handledUpTo: -1, byRawKey: new Map(), byId: new Map(), openWindows: 0 });
  }

  /**
   * True when the stream already took the record at `offset`: after every rebalance kafkajs fetches
   * each partition a member keeps again from the committed offset, which the commit gate holds at
   * the first record of what this member still holds, so those records come back a second time.
   */
  hasHandled(tenant: string, partition: number, offset: number): boolean {
    const s = this.streams.get(streamKey(tenant, partition));
    return s !== undefined && s.handledFrom >= 0 && offset >= s.handledFrom && offset <= s.handledUpTo;
  }

  /** Called once all points of the record at `offset` were added. */
  markHandled(tenant: string, partition: number, offset: number): void {
    const s = this.streams.get(streamKey(tenant, partition));
    if (!s) return;
    if (s.handledFrom < 0 || offset < s.handledFrom) s.handledFrom = offset;
    if (offset > s.handledUpTo) s.handledUpTo = offset;
  }

  add(tenant: string, point: MetricPoint, source: PointSource, receivedAt: number, now: number, limits: StreamLimits): AddOutcome {
    const stream = this.streams.get(streamKey(tenant, source.partition));
    if (!stream) throw new Error(`stream ${tenant}/${source.partition} is not open`);
    const ts = point.timestamp;
    // The edge refuses these; records that did not come through it are checked again here.
    if (ts < receivedAt - limits.maxSampleAgeMs) return 'sample_too_old';
    if (ts > receivedAt + limits.creationGracePeriodMs) return 'too_far_in_future';
    stream.lastSeen = now;
    const wm = Math.min(ts, receivedAt + limits.creationGracePeriodMs, now + limits.creationGracePeriodMs);
    if (wm > stream.watermark) stream.watermark = wm;
    const W = this.opts.windowMs;
    const start = ts - (((ts % W) + W) % W);
    const series = this.seriesOf(stream, point);
    series.lastSeen = now;
    if (start < stream.closedUntil) {
      this.addLate(stream, series, start, point.value, source.offset);
      return 'late';
    }
    let w = series.open.get(start);
    if (!w) {
      w = { start, sketch: new WindowSketch(), firstOffset: source.offset, lastOffset: source.offset };
      series.open.set(start, w);
      stream.openWindows++;
      this.openTotal++;
    }
    w.sketch.accept(point.value);
    w.lastOffset = source.offset;
    return 'windowed';
  }

  private seriesOf(stream: Stream, point: MetricPoint): SeriesState {
    let raw = point.name;
    const labels = point.labels;
    for (const k in labels) raw += `\u0001${k}\u0002${labels[k]}`;
    let s = stream.byRawKey.get(raw);
    if (s) return s;
    const id = seriesId(point.name, labels);
    s = stream.byId.get(id);
    if (!s) {
      s = { id, name: point.name, labels, unit: point.unit, open: new Map(), lastSeen: 0, rawKeys: [] };
      stream.byId.set(id, s);
    }
    stream.byRawKey.set(raw, s);
    s.rawKeys.push(raw);
    return s;
  }

  /**
   * Forgets a series that holds no open window and got no point for `seriesIdleMs`, so a tenant's
   * churning series (or a tenant gone quiet) cost memory only while active.
   */
  private forgetIfIdle(stream: Stream, id: string, series: SeriesState, now: number): void {
    if (series.open.size > 0 || now - series.lastSeen < this.seriesIdleMs) return;
    stream.byId.delete(id);
    for (const raw of series.rawKeys) stream.byRawKey.delete(raw);
  }

  /** A series without open windows is forgotten once it got no point for two windows plus the lateness and the idle close. */
  private get seriesIdleMs(): number {
    return 2 * this.opts.windowMs + this.opts.allowedLatenessMs + this.opts.idleCloseMs;
  }

  private addLate(stream: Stream, series: SeriesState, start: number, value: number, offset: number): void {
    const key = windowKey(stream.tenant, series.id, start);
    let l = this.late.get(key);
    if (!l) {
      l = { tenant: stream.tenant, partition: stream.partition, seriesId: series.id, name: series.name, labels: series.labels, unit: series.unit, windowStart: start, values: [], offsets: [] };
      this.late.set(key, l);
    }
    l.values.push(value);
    l.offsets.push(offset);
    this.latePointCount++;
  }

  /**
   * Removes and returns the windows due to close. `caughtUp`: nothing is known to be queued behind
   * the records handled so far, so quiet streams may be closed by the clock. `budgetOf(tenant)`: a
   * stream holding more open windows than this has its oldest closed early (its own cost only).
   */
  closeDue(now: number, caughtUp = true, budgetOf: (tenant: string) => number = () => Infinity): ClosedWindow[] {
    const closed: ClosedWindow[] = [];
    const W = this.opts.windowMs;
    for (const stream of this.streams.values()) {
      if (stream.openWindows === 0) {
        // A quiet stream closes nothing, but its series still go once idle.
        for (const [id, series] of stream.byId) this.forgetIfIdle(stream, id, series, now);
        continue;
      }
      const idle = caughtUp && now - stream.lastSeen >= this.opts.idleCloseMs;
      let boundary = idle ? Infinity : stream.watermark - this.opts.allowedLatenessMs - W + 1;
      const budget = idle ? Infinity : budgetOf(stream.tenant);
      if (stream.openWindows > budget) boundary = Math.max(boundary, this.oldestStartsToClose(stream, stream.openWindows - budget));
      let newest = stream.closedUntil;
      for (const [id, series] of stream.byId) {
        for (const [start, w] of series.open) {
          if (start >= boundary) continue;
          series.open.delete(start);
          stream.openWindows--;
          this.openTotal--;
          const c = this.toClosed(stream, series, w);
          this.pending.set(windowKey(stream.tenant, series.id, start), c);
          closed.push(c);
          if (start + W > newest) newest = start + W;
        }
        this.forgetIfIdle(stream, id, series, now);
      }
      // Every window starting before the boundary is now final on this stream.
      const final = idle ? newest : Math.max(newest, Math.ceil(boundary / W) * W);
      if (Number.isFinite(final) && final > stream.closedUntil) stream.closedUntil = final;
    }
    return closed;
  }

  /** The window start below which closing frees `excess` windows of the stream (oldest first). */
  private oldestStartsToClose(stream: Stream, excess: number): number {
    const starts: number[] = [];
    for (const s of stream.byId.values()) for (const start of s.open.keys()) starts.push(start);
    starts.sort((a, b) => a - b);
    return starts[Math.min(starts.length - 1, excess - 1)] + 1;
  }

  private toClosed(stream: Stream, series: SeriesState, w: OpenWindow): ClosedWindow {
    return {
      tenant: stream.tenant,
      partition: stream.partition,
      sketch: w.sketch,
      firstOffset: w.firstOffset,
      lastOffset: w.lastOffset,
      window: summarise(series, w.start, w.sketch, this.opts.windowMs),
    };
  }

  /** Takes the late points gathered since the last call (they now hold commits until acknowledged). */
  takeLate(): LatePoints[] {
    const out = [...this.late.values()];
    this.late.clear();
    this.latePointCount = 0;
    for (const l of out) this.pendingLate.add(l);
    return out;
  }

  /** The flush persisted these: their records may now be committed past. */
  acknowledge(windows: ClosedWindow[], late: LatePoints[] = []): void {
    for (const c of windows) this.pending.delete(windowKey(c.tenant, c.window.seriesId, c.window.windowStart));
    for (const l of late) this.pendingLate.delete(l);
  }

  /** Progress of each stream touched by `windows`/`late`, to persist with them. */
  progressOf(tenantPartitions: Iterable<[string, number]>): { tenant: string; partition: number; closedUntil: number }[] {
    const out: { tenant: string; partition: number; closedUntil: number }[] = [];
    for (const [tenant, partition] of tenantPartitions) {
      const s = this.streams.get(streamKey(tenant, partition));
      if (s) out.push({ tenant, partition, closedUntil: s.closedUntil });
    }
    return out;
  }

  /**
   * After a rebalance: forgets every stream of partitions this member no longer owns, with their
   * open, closed-unsaved and late windows. Their new owner replays them from the last commit (the
   * gate never passed their first record) and reloads their progress, as this member will if the
   * partition comes back.
   */
  retainPartitions(owned: ReadonlySet<number>): void {
    for (const [key, s] of this.streams) {
      if (owned.has(s.partition)) continue;
      this.streams.delete(key);
      this.openTotal -= s.openWindows;
    }
    for (const [key, c] of this.pending) if (!owned.has(c.partition)) this.pending.delete(key);
    for (const [key, l] of this.late) {
      if (owned.has(l.partition)) continue;
      this.late.delete(key);
      this.latePointCount -= l.values.length;
    }
    for (const l of this.pendingLate) if (!owned.has(l.partition)) this.pendingLate.delete(l);
  }

  /** Erasure: the tenant's streams and everything they hold are dropped. */
  forgetTenant(tenant: string): void {
    for (const [key, s] of this.streams) {
      if (s.tenant !== tenant) continue;
      this.streams.delete(key);
      this.openTotal -= s.openWindows;
    }
    for (const [key, c] of this.pending) if (c.tenant === tenant) this.pending.delete(key);
    for (const [key, l] of this.late) {
      if (l.tenant !== tenant) continue;
      this.late.delete(key);
      this.latePointCount -= l.values.length;
    }
    for (const l of this.pendingLate) if (l.tenant === tenant) this.pendingLate.delete(l);
  }

  /** The offset safe to commit on a partition: not past the first record of anything unpersisted. */
  commitGate(partition: number, next: string): string {
    let min = Number(next);
    for (const s of this.streams.values()) {
      if (s.partition !== partition || s.openWindows === 0) continue;
      for (const series of s.byId.values()) for (const w of series.open.values()) if (w.firstOffset < min) min = w.firstOffset;
    }
    for (const c of this.pending.values()) if (c.partition === partition && c.firstOffset < min) min = c.firstOffset;
    for (const l of [...this.late.values(), ...this.pendingLate]) if (l.partition === partition && l.offsets[0] < min) min = l.offsets[0];
    return String(min);
  }

  openWindows(): number {
    return this.openTotal;
  }

  /** Series held in memory (with an open window, or seen recently). */
  seriesInMemory(): number {
    let n = 0;
    for (const s of this.streams.values()) n += s.byId.size;
    return n;
  }

  /** Open windows per tenant (for the per-tenant memory gauge and budget). */
  openWindowsOf(tenant: string): number {
    let n = 0;
    for (const s of this.streams.values()) if (s.tenant === tenant) n += s.openWindows;
    return n;
  }

  latePoints(): number {
    return this.latePointCount;
  }

  pendingWindows(): number {
    return this.pending.size;
  }
}

/** The published form of a window: exact count, sum, min, max; quantiles and bins from its sketch. */
export function summarise(series: { id: string; name: string; labels: Labels; unit?: string }, start: number, sketch: WindowSketch, windowMs: number, revision = 0): AggregateWindow {
  const [p50, p95, p99] = sketch.quantiles([0.5, 0.95, 0.99]);
  return {
    series: { name: series.name, labels: series.labels },
    seriesId: series.id,
    windowStart: start,
    windowMs,
    count: sketch.count,
    sum: sketch.sum,
    min: sketch.min,
    max: sketch.max,
    p50,
    p95,
    p99,
    ...(series.unit ? { unit: series.unit } : {}),
    sketch: sketch.toBase64(),
    revision,
  };
}
