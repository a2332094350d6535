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
    const a = new SeriesAnomalies({ threshold: 0.6 });
    const quiet = [];
    for (let i = 0; i < 2000; i++) quiet.push(a.observe('label-a', window(i, 120 + noise()), 100));
    expect(quiet.slice(200).filter(Boolean)).toEqual([]);
    const spike = a.observe('label-a', window(2000, 480), 100);
    expect(spike).toMatchObject({ kind: 'anomaly', detector: 'seasonal', value: 480, series: { name: 'api_latency_ms' } });
    expect(spike!.score).toBeGreaterThanOrEqual(0.6);
    expect(spike!.explanation).toMatch(/^p95 value 480 ms/);
  });

  it("keeps tenants apart: A's history does not make B's first spike look normal, nor the reverse", () => {
    const a = new SeriesAnomalies({ threshold: 0.6 });
    for (let i = 0; i < 1000; i++) a.observe('label-a', window(i, 480 + noise()), 100);
    for (let i = 0; i < 1000; i++) a.observe('label-b', window(i, 120 + noise()), 100);
    expect(a.observe('label-b', window(1000, 480), 100)).toBeDefined();
    expect(a.observe('label-a', window(1000, 480 + noise()), 100)).toBeUndefined();
  });

  it("bounds memory per tenant: a tenant's flood evicts only its own least recently fed baselines", () => {
    const a = new SeriesAnomalies({ threshold: 0.6 });
    // label-b learns a baseline first, then label-a floods with new series.
    for (let i = 0; i < 1000; i++) a.observe('label-b', window(i, 120 + noise()), 3);
    for (let r = 0; r < 50; r++) a.observe('label-a', window(0, 100, `/flood-${r}`), 3);
    expect(a.size('label-a')).toBe(3);
    expect(a.size('label-b')).toBe(1);
    // label-b's baseline survived: its next normal window is normal, a spike is not.
    expect(a.observe('label-b', window(1000, 120 + noise()), 3)).toBeUndefined();
    expect(a.observe('label-b', window(1001, 480), 3)).toBeDefined();
    a.forgetTenant('label-a');
    expect(a.size()).toBe(1);
  });
});
