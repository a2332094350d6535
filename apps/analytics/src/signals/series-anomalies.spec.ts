import type { AggregateWindow } from '@headroom/contracts';
import { SeriesAnomalies } from './series-anomalies';

const W = 10_000;
const T0 = 1_767_225_600_000;
let seed = 7;
const noise = () => ((seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5) * 10;

function window(i: number, p95: number, route = '/play'): AggregateWindow {
  return { series: { name: 'api_latency_ms', labels: { route } }, seriesId: `s${route}`, windowStart: T0 + i * W, windowMs: W, count: 10, sum: 10 * p95, min: p95, max: p95, p50: p95, p95, p99: p95, unit: 'ms' };
}

describe('SeriesAnomalies', () => {
  it('stays quiet on a steady noisy series, then signals a latency spike with an explanation', () => {
    const a = new SeriesAnomalies({ threshold: 0.6, maxSeries: 100 });
    const quiet = [];
    for (let i = 0; i < 2000; i++) quiet.push(a.observe('label-a', window(i, 120 + noise())));
    expect(quiet.slice(200).filter(Boolean)).toEqual([]);
    const spike = a.observe('label-a', window(2000, 480));
    expect(spike).toMatchObject({ kind: 'anomaly', detector: 'seasonal', value: 480, series: { name: 'api_latency_ms' } });
    expect(spike!.score).toBeGreaterThanOrEqual(0.6);
    expect(spike!.explanation).toMatch(/^p95 value 480 ms/);
  });

  it("keeps tenants apart: A's history does not make B's first spike look normal, nor the reverse", () => {
    const a = new SeriesAnomalies({ threshold: 0.6, maxSeries: 100 });
    for (let i = 0; i < 1000; i++) a.observe('label-a', window(i, 480 + noise()));
    for (let i = 0; i < 1000; i++) a.observe('label-b', window(i, 120 + noise()));
    expect(a.observe('label-b', window(1000, 480))).toBeDefined();
    expect(a.observe('label-a', window(1000, 480 + noise()))).toBeUndefined();
  });

  it('bounds memory: the least recently fed series is dropped beyond maxSeries, and erased tenants are forgotten', () => {
    const a = new SeriesAnomalies({ threshold: 0.6, maxSeries: 3 });
    for (const r of ['/a', '/b', '/c', '/d']) a.observe('label-a', window(0, 100, r));
    expect(a.size()).toBe(3);
    a.observe('label-b', window(0, 100));
    a.forgetTenant('label-a');
    expect(a.size()).toBe(1);
  });
});
