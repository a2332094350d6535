import type { MetricPoint } from '@headroom/contracts';
import { quantile, WindowAggregator } from './window-aggregator';
import { eventToPoints } from './event-metrics';

const W = 10_000;
const T0 = 1_767_225_600_000; // aligned on a 10 s boundary
const src = (offset: number, partition = 0) => ({ topic: 'headroom.telemetry.v1', partition, offset: String(offset) });
const pt = (value: number, t: number, labels: Record<string, string> = {}): MetricPoint => ({ name: 'api_latency_ms', labels, value, timestamp: t });

function agg() {
  return new WindowAggregator({ windowMs: W, allowedLatenessMs: 2_000, idleCloseMs: 3_000 });
}

describe('WindowAggregator', () => {
  it('computes count, sum, min, max and nearest-rank quantiles per 10 s window and series', () => {
    const a = agg();
    for (let i = 1; i <= 100; i++) a.add('label-a', pt(i, T0 + i * 50), src(1), T0);
    a.add('label-a', pt(1000, T0 + W + 1), src(2), T0); // next window
    a.add('label-a', pt(5000, T0 + W + 2_001), src(3), T0); // pushes the watermark past the first window
    const closed = a.closeDue(T0);
    expect(closed).toHaveLength(1);
    expect(closed[0].window).toMatchObject({ windowStart: T0, windowMs: W, count: 100, sum: 5050, min: 1, max: 100, p50: 50, p95: 95, p99: 99 });
  });

  it('keeps tenants and series apart', () => {
    const a = agg();
    a.add('label-a', pt(10, T0), src(1), T0);
    a.add('label-b', pt(999, T0), src(2), T0);
    a.add('label-a', pt(20, T0, { route: '/x' }), src(3), T0);
    const closed = a.closeDue(T0 + W + 10_000); // all idle: closed by the clock
    const byTenant = (t: string) => closed.filter((c) => c.tenant === t).map((c) => c.window.max).sort();
    expect(byTenant('label-a')).toEqual([10, 20]);
    expect(byTenant('label-b')).toEqual([999]);
  });

  it('does not close a window while its tenant is active and the watermark has not passed', () => {
    const a = agg();
    a.add('label-a', pt(1, T0 + 9_000), src(1), T0 + 9_000);
    expect(a.closeDue(T0 + 10_500)).toEqual([]);
    expect(a.closeDue(T0 + 9_000 + 3_000)).toHaveLength(1); // quiet for idleCloseMs: the clock closes it
  });

  it('leaves a quiet tenant\'s window open while records are still queued behind (backlog)', () => {
    const a = agg();
    a.add('label-a', pt(1, T0 + 9_000), src(1), T0 + 9_000);
    expect(a.closeDue(T0 + 60_000, false)).toEqual([]);
    expect(a.closeDue(T0 + 60_000, true)).toHaveLength(1);
  });

  it('drops points for windows already closed instead of rewriting them partially', () => {
    const a = agg();
    a.add('label-a', pt(1, T0), src(1), T0);
    a.closeDue(T0 + 60_000);
    expect(a.add('label-a', pt(2, T0 + 5), src(2), T0 + 60_000)).toBe(false);
    expect(a.latePoints).toBe(1);
    const b = agg();
    b.restoreProgress('label-a', T0 + W); // persisted before a restart
    expect(b.add('label-a', pt(2, T0 + 5), src(2), T0)).toBe(false);
    expect(b.add('label-a', pt(2, T0 + W), src(2), T0)).toBe(true);
  });

  it('holds commits back to the first record of any window not yet persisted', () => {
    const a = agg();
    a.add('label-a', pt(1, T0), src(5), T0);
    a.add('label-a', pt(1, T0 + 1), src(7), T0);
    expect(a.commitGate('headroom.telemetry.v1', 0, '8')).toBe('5');
    expect(a.commitGate('headroom.telemetry.v1', 1, '8')).toBe('8');
    const closed = a.closeDue(T0 + 60_000);
    expect(a.commitGate('headroom.telemetry.v1', 0, '8')).toBe('5'); // closed but not yet acknowledged
    a.acknowledge(closed);
    expect(a.commitGate('headroom.telemetry.v1', 0, '8')).toBe('8');
  });

  it('forgets windows of partitions that moved to another member after a rebalance', () => {
    const a = agg();
    a.add('label-a', pt(1, T0), src(1, 0), T0);
    a.add('label-b', pt(2, T0), src(1, 1), T0);
    a.retainPartitions(new Set(['headroom.telemetry.v1:1']));
    expect(a.openWindows()).toBe(1);
    expect(a.commitGate('headroom.telemetry.v1', 0, '9')).toBe('9');
    expect(a.closeDue(T0 + 60_000).map((c) => c.tenant)).toEqual(['label-b']);
  });

  it('nearest-rank quantiles return observed values', () => {
    expect(quantile([5], 0.99)).toBe(5);
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2);
    expect(quantile([1, 2, 3, 4], 0.95)).toBe(4);
  });

  it('turns typed platform events into series without user ids', () => {
    const pts = eventToPoints({ type: 'song_play', timestamp: T0, trackId: 't', userId: 'u_secret', durationMs: 1000, country: 'FR' });
    expect(pts.map((p) => p.name)).toEqual(['song_plays', 'song_play_duration_ms']);
    expect(JSON.stringify(pts)).not.toContain('u_secret');
  });
});
