import { seriesId, type AggregateWindow, type MetricPoint } from '@headroom/contracts';

export interface SourceOffset {
  topic: string;
  partition: number;
  offset: string;
}

interface OpenWindow {
  tenant: string;
  seriesId: string;
  name: string;
  labels: Record<string, string>;
  unit?: string;
  windowStart: number;
  values: number[];
  sum: number;
  /** First record that fed this window: commits must not pass it until the window is persisted. */
  source: SourceOffset;
}

export interface ClosedWindow {
  tenant: string;
  window: AggregateWindow;
  source: SourceOffset;
}

export interface WindowAggregatorOptions {
  windowMs: number;
  /** How long after a window's end points may still arrive (event time). */
  allowedLatenessMs: number;
  /** A tenant silent this long (wall clock) has its windows closed by the clock instead of by data. */
  idleCloseMs: number;
}

/**
 * Tumbling windows per tenant and series, closed by a per-tenant event-time watermark (newest point
 * seen minus the allowed lateness), or by the wall clock once the tenant goes quiet. Closing by event
 * time means a replay after a crash rebuilds exactly the same windows. Points for windows already
 * closed are late: counted and dropped, never merged into a persisted window as a partial rewrite.
 */
export class WindowAggregator {
  private readonly open = new Map<string, OpenWindow>();
  private readonly pending = new Map<string, ClosedWindow>();
  private readonly newestEvent = new Map<string, number>();
  private readonly lastSeen = new Map<string, number>();
  private readonly closedUntil = new Map<string, number>();
  latePoints = 0;

  constructor(private readonly opts: WindowAggregatorOptions) {}

  /** Restores what was persisted: windows ending at or before `until` are final for the tenant. */
  restoreProgress(tenant: string, until: number): void {
    this.closedUntil.set(tenant, Math.max(until, this.closedUntil.get(tenant) ?? 0));
  }

  add(tenant: string, point: MetricPoint, source: SourceOffset, now: number): boolean {
    const start = point.timestamp - (point.timestamp % this.opts.windowMs);
    this.lastSeen.set(tenant, now);
    if (start < (this.closedUntil.get(tenant) ?? 0)) {
      this.latePoints += 1;
      return false;
    }
    this.newestEvent.set(tenant, Math.max(point.timestamp, this.newestEvent.get(tenant) ?? 0));
    const id = seriesId(point.name, point.labels);
    const key = `${tenant}\u0000${id}\u0000${start}`;
    let w = this.open.get(key);
    if (!w) {
      w = { tenant, seriesId: id, name: point.name, labels: point.labels, unit: point.unit, windowStart: start, values: [], sum: 0, source };
      this.open.set(key, w);
    }
    w.values.push(point.value);
    w.sum += point.value;
    return true;
  }

  /**
   * Removes and returns the windows whose end has passed their tenant's watermark (`caughtUp`: the
   * consumer has nothing queued, so a quiet tenant is really quiet). They stay
   * "pending" (holding back commits) until `acknowledge` confirms they were published and stored.
   */
  closeDue(now: number, caughtUp = true): ClosedWindow[] {
    const watermark = new Map<string, number>();
    for (const [tenant, newest] of this.newestEvent) {
      const byData = newest - this.opts.allowedLatenessMs;
      // The clock may close a quiet tenant's windows only when no records are queued behind: with a
      // backlog (after a crash, or under load), its points may still be on their way.
      const idle = caughtUp && now - (this.lastSeen.get(tenant) ?? now) >= this.opts.idleCloseMs;
      watermark.set(tenant, idle ? Math.max(byData, now - this.opts.allowedLatenessMs) : byData);
    }
    const closed: ClosedWindow[] = [];
    for (const [key, w] of this.open) {
      const end = w.windowStart + this.opts.windowMs;
      if (end > (watermark.get(w.tenant) ?? -Infinity)) continue;
      this.open.delete(key);
      const c = { tenant: w.tenant, window: summarise(w, this.opts.windowMs), source: w.source };
      this.pending.set(key, c);
      closed.push(c);
    }
    // Everything up to the watermark's window boundary is now final for the tenant.
    for (const [tenant, wm] of watermark) {
      const boundary = wm - (((wm % this.opts.windowMs) + this.opts.windowMs) % this.opts.windowMs);
      if (boundary > (this.closedUntil.get(tenant) ?? 0)) this.closedUntil.set(tenant, boundary);
    }
    return closed;
  }

  /**
   * After a rebalance: forgets open and pending windows fed by partitions this member no longer owns.
   * Their new owner replays them from the last commit (the gate never passed their first record), so
   * keeping them here would only let a partial copy race the complete one.
   */
  retainPartitions(owned: ReadonlySet<string>): void {
    for (const [key, w] of this.open) if (!owned.has(`${w.source.topic}:${w.source.partition}`)) this.open.delete(key);
    for (const [key, c] of this.pending) if (!owned.has(`${c.source.topic}:${c.source.partition}`)) this.pending.delete(key);
  }

  acknowledge(windows: ClosedWindow[]): void {
    for (const c of windows) this.pending.delete(`${c.tenant}\u0000${c.window.seriesId}\u0000${c.window.windowStart}`);
  }

  progress(tenant: string): number {
    return this.closedUntil.get(tenant) ?? 0;
  }

  /** The offset safe to commit on a partition: not past the first record of any unpersisted window. */
  commitGate(topic: string, partition: number, next: string): string {
    let min = BigInt(next);
    for (const w of [...this.open.values(), ...this.pending.values()]) {
      if (w.source.topic === topic && w.source.partition === partition && BigInt(w.source.offset) < min) min = BigInt(w.source.offset);
    }
    return min.toString();
  }

  openWindows(): number {
    return this.open.size;
  }
}

/** Nearest-rank quantile on the sorted values: always a value that was actually observed. */
export function quantile(sorted: number[], q: number): number {
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1];
}

function summarise(w: OpenWindow, windowMs: number): AggregateWindow {
  const sorted = Float64Array.from(w.values).sort();
  const arr = Array.from(sorted);
  return {
    series: { name: w.name, labels: w.labels },
    seriesId: w.seriesId,
    windowStart: w.windowStart,
    windowMs,
    count: arr.length,
    sum: w.sum,
    min: arr[0],
    max: arr[arr.length - 1],
    p50: quantile(arr, 0.5),
    p95: quantile(arr, 0.95),
    p99: quantile(arr, 0.99),
    ...(w.unit ? { unit: w.unit } : {}),
  };
}
