import { DEFAULT_TENANT_LIMITS, WindowSketch, type MetricPoint } from '@headroom/contracts';
import { WindowAggregator } from './window-aggregator';
import { eventToPoints } from './event-metrics';

const W = 10_000;
const T0 = 1_767_225_600_000; // aligned on a 10 s boundary
const limits = DEFAULT_TENANT_LIMITS;
const src = (offset: number, partition = 0) => ({ partition, offset });
const pt = (value: number, t: number, labels: Record<string, string> = {}): MetricPoint => ({ name: 'api_latency_ms', labels, value, timestamp: t });

function agg(streams: [string, number][] = [['label-a', 0], ['label-b', 0]]) {
  const a = new WindowAggregator({ windowMs: W, allowedLatenessMs: 2_000, idleCloseMs: 3_000 });
  for (const [tenant, partition] of streams) a.openStream(tenant, partition, 0);
  return a;
}

/** Adds a point received at its own timestamp (a producer sending in real time). */
function add(a: WindowAggregator, tenant: string, p: MetricPoint, offset: number, now = p.timestamp, partition = 0) {
  return a.add(tenant, p, src(offset, partition), p.timestamp, now, limits);
}

/** The exact q-quantile as DDSketch defines it (rank q·(n−1)), written independently of the sketch. */
function exact(values: number[], q: number): number {
  const s = [...values].sort((x, y) => x - y);
  return s[Math.floor(q * (s.length - 1))];
}

describe('WindowAggregator', () => {
  it('computes exact count, sum, min, max and quantiles within 1% per 10 s window and series, on a skewed set', () => {
    const a = agg();
    let seed = 11;
    const rnd = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    // Log-normal-ish latencies: a long right tail.
    const values = Array.from({ length: 5000 }, () => Math.exp(3 + 1.5 * Math.sqrt(-2 * Math.log(rnd())) * Math.cos(2 * Math.PI * rnd())));
    values.forEach((v, i) => add(a, 'label-a', pt(v, T0 + (i % 9_000)), 1));
    add(a, 'label-a', pt(5000, T0 + W + 2_001), 2); // pushes the watermark past the first window
    const closed = a.closeDue(T0 + W + 2_001);
    expect(closed).toHaveLength(1);
    const w = closed[0].window;
    expect(w).toMatchObject({ windowStart: T0, windowMs: W, count: 5000, min: Math.min(...values), max: Math.max(...values), revision: 0 });
    expect(w.sum).toBeCloseTo(values.reduce((s, v) => s + v, 0), 6);
    for (const [q, got] of [[0.5, w.p50], [0.95, w.p95], [0.99, w.p99]] as const) {
      const want = exact(values, q);
      expect(Math.abs(got - want) / want).toBeLessThanOrEqual(0.01);
    }
    // The published sketch decodes to the same quantiles.
    const sketch = WindowSketch.fromProto(w.sketch!, w);
    expect(sketch.count).toBe(5000);
    expect(sketch.quantiles([0.5, 0.95, 0.99])).toEqual([w.p50, w.p95, w.p99]);
  });

  it('forgets series that went idle, so churning series cost memory only while active, and counts a returning one afresh', () => {
    const a = agg([['label-a', 0]]);
    // 1,000 short-lived series, one window each, then a steady one that keeps the watermark moving.
    for (let i = 0; i < 1_000; i++) add(a, 'label-a', pt(i, T0 + 1, { pod: `pod-${i}` }), i);
    expect(a.seriesInMemory()).toBe(1_000);
    let offset = 1_000;
    let closed = 0;
    for (let t = T0 + W; t <= T0 + 6 * W; t += 1_000) {
      add(a, 'label-a', pt(1, t, { pod: 'steady' }), offset++);
      const c = a.closeDue(t);
      closed += c.length;
      a.acknowledge(c);
    }
    expect(closed).toBeGreaterThanOrEqual(1_000);
    expect(a.seriesInMemory()).toBe(1);
    // A forgotten series that comes back is a series like any other: its new window counts from zero.
    add(a, 'label-a', pt(7, T0 + 6 * W + 10, { pod: 'pod-3' }), offset++);
    add(a, 'label-a', pt(1, T0 + 8 * W, { pod: 'steady' }), offset++);
    const back = a.closeDue(T0 + 8 * W).find((c) => c.window.series.labels['pod'] === 'pod-3');
    expect(back?.window).toMatchObject({ windowStart: T0 + 6 * W, count: 1, sum: 7 });
  });

  it('forgets the series of a tenant that went quiet altogether', () => {
    const a = agg([['label-a', 0]]);
    for (let i = 0; i < 100; i++) add(a, 'label-a', pt(i, T0 + 1, { pod: `pod-${i}` }), i);
    // Quiet from now on: its windows close by the clock, then its series go.
    a.acknowledge(a.closeDue(T0 + W + 4_000));
    expect(a.openWindows()).toBe(0);
    a.closeDue(T0 + 10 * W);
    expect(a.seriesInMemory()).toBe(0);
  });

  it('keeps tenants and series apart, and one series whatever the order of its labels', () => {
    const a = agg();
    add(a, 'label-a', pt(10, T0, { route: '/x', method: 'GET' }), 1);
    add(a, 'label-a', { ...pt(20, T0 + 1), labels: { method: 'GET', route: '/x' } }, 2);
    add(a, 'label-b', pt(999, T0, { route: '/x', method: 'GET' }), 3);
    add(a, 'label-a', pt(30, T0, { route: '/y' }), 4);
    const closed = a.closeDue(T0 + W + 10_000); // all idle: closed by the clock
    const of = (t: string) => closed.filter((c) => c.tenant === t).map((c) => [c.window.series.labels.route, c.window.count, c.window.max]);
    expect(of('label-a').sort()).toEqual([['/x', 2, 20], ['/y', 1, 30]]);
    expect(of('label-b')).toEqual([['/x', 1, 999]]);
  });

  it('does not close a window while its stream is active and the watermark has not passed', () => {
    const a = agg();
    add(a, 'label-a', pt(1, T0 + 9_000), 1);
    expect(a.closeDue(T0 + 10_500)).toEqual([]);
    expect(a.closeDue(T0 + 9_000 + 3_000)).toHaveLength(1); // quiet for idleCloseMs: the clock closes it
  });

  it("leaves a quiet stream's window open while records may be queued behind (not caught up)", () => {
    const a = agg();
    add(a, 'label-a', pt(1, T0 + 9_000), 1);
    expect(a.closeDue(T0 + 60_000, false)).toEqual([]);
    expect(a.closeDue(T0 + 60_000, true)).toHaveLength(1);
  });

  it('keeps points for closed windows as late points, with their record offsets, instead of dropping them', () => {
    const a = agg();
    add(a, 'label-a', pt(1, T0), 1);
    a.closeDue(T0 + 60_000);
    expect(add(a, 'label-a', pt(2, T0 + 5), 2, T0 + 60_000)).toBe('late');
    expect(add(a, 'label-a', pt(3, T0 + 6), 3, T0 + 60_000)).toBe('late');
    const late = a.takeLate();
    expect(late).toHaveLength(1);
    expect(late[0]).toMatchObject({ tenant: 'label-a', partition: 0, windowStart: T0, values: [2, 3], offsets: [2, 3] });
  });

  it('takes persisted progress per stream: points before it are late on that stream only', () => {
    const a = agg([]);
    a.openStream('label-a', 0, T0 + W);
    a.openStream('label-a', 1, 0);
    expect(add(a, 'label-a', pt(2, T0 + 5), 2)).toBe('late');
    expect(add(a, 'label-a', pt(2, T0 + 5), 2, T0 + 5, 1)).toBe('windowed');
    expect(add(a, 'label-a', pt(2, T0 + W), 3)).toBe('windowed');
  });

  it('never lets a watermark run ahead of the receive time plus the grace period', () => {
    const a = agg();
    add(a, 'label-a', pt(1, T0), 1);
    // Stamped 2099, received now: refused, and the stream's windows are not closed by it.
    expect(a.add('label-a', pt(1, 4_070_908_800_000), src(2), T0, T0, limits)).toBe('too_far_in_future');
    // Within the grace period (5 min ahead): accepted, and the watermark is capped at receive + grace.
    expect(a.add('label-a', pt(1, T0 + 5 * 60_000), src(3), T0, T0, limits)).toBe('windowed');
    expect(add(a, 'label-a', pt(7, T0 + 1_000), 4)).toBe('windowed'); // the current window is still open
    expect(a.add('label-a', pt(1, T0 - limits.maxSampleAgeMs - 1), src(5), T0, T0, limits)).toBe('sample_too_old');
  });

  it('holds commits back to the first record of anything not yet persisted: open, closed or late', () => {
    const a = agg();
    add(a, 'label-a', pt(1, T0), 5);
    add(a, 'label-a', pt(1, T0 + 1), 7);
    expect(a.commitGate(0, '8')).toBe('5');
    expect(a.commitGate(1, '8')).toBe('8');
    const closed = a.closeDue(T0 + 60_000);
    expect(a.commitGate(0, '8')).toBe('5'); // closed but not yet acknowledged
    add(a, 'label-a', pt(1, T0 + 2), 9, T0 + 60_000); // late
    a.acknowledge(closed);
    expect(a.commitGate(0, '10')).toBe('9');
    const late = a.takeLate();
    expect(a.commitGate(0, '10')).toBe('9'); // taken by a flush, not yet persisted
    a.acknowledge([], late);
    expect(a.commitGate(0, '10')).toBe('10');
  });

  it('forgets the streams of partitions that moved to another member after a rebalance', () => {
    const a = agg([['label-a', 0], ['label-b', 1]]);
    add(a, 'label-a', pt(1, T0), 1, T0, 0);
    add(a, 'label-b', pt(2, T0), 1, T0, 1);
    a.retainPartitions(new Set([1]));
    expect(a.openWindows()).toBe(1);
    expect(a.commitGate(0, '9')).toBe('9');
    expect(a.hasStream('label-a', 0)).toBe(false); // progress reloads if it comes back
    expect(a.closeDue(T0 + 60_000).map((c) => c.tenant)).toEqual(['label-b']);
  });

  it('knows which records a kept stream already took, so a re-fetch from the gated commit after a rebalance is not counted again', () => {
    const a = agg([['label-a', 0], ['label-b', 0]]);
    expect(a.hasHandled('label-a', 0, 5)).toBe(false);
    for (const offset of [5, 7]) {
      add(a, 'label-a', pt(1, T0 + offset), offset);
      a.markHandled('label-a', 0, offset);
    }
    a.retainPartitions(new Set([0])); // the partition stays with this member
    // kafkajs fetches it again from the commit, which the gate held at offset 5.
    expect(a.commitGate(0, '8')).toBe('5');
    expect([5, 6, 7].map((o) => a.hasHandled('label-a', 0, o))).toEqual([true, true, true]);
    expect([4, 8].map((o) => a.hasHandled('label-a', 0, o))).toEqual([false, false]);
    expect(a.hasHandled('label-b', 0, 6)).toBe(false); // another tenant's stream on the partition
    // A stream dropped (moved away, erased) and opened again starts over.
    a.retainPartitions(new Set());
    a.openStream('label-a', 0, 0);
    expect(a.hasHandled('label-a', 0, 5)).toBe(false);
  });

  it("closes a stream's oldest windows early beyond its budget, and only that stream's", () => {
    const a = agg();
    for (let i = 0; i < 10; i++) add(a, 'label-a', pt(1, T0 + (i < 6 ? 0 : W), { s: String(i) }), i);
    add(a, 'label-b', pt(1, T0), 100);
    const closed = a.closeDue(T0 + 1, true, (t) => (t === 'label-a' ? 4 : Infinity));
    expect(closed.every((c) => c.tenant === 'label-a')).toBe(true);
    expect(a.openWindowsOf('label-a')).toBe(4);
    expect(a.openWindowsOf('label-b')).toBe(1);
    // A point for a window closed early is late, not lost.
    expect(add(a, 'label-a', pt(2, T0 + 1, { s: '0' }), 11)).toBe('late');
  });

  it('turns typed platform events into series without user ids', () => {
    const pts = eventToPoints({ type: 'song_play', timestamp: T0, trackId: 't', userId: 'u_secret', durationMs: 1000, country: 'FR' });
    expect(pts.map((p) => p.name)).toEqual(['song_plays', 'song_play_duration_ms']);
    expect(JSON.stringify(pts)).not.toContain('u_secret');
  });
});
