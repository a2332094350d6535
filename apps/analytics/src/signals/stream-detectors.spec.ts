import { TenantDetectorsSchema, type AggregateWindow, type DetectorSettingInput, type Signal } from '@headroom/contracts';
import { resolveSettings } from './detector-settings';
import { StreamDetectors } from './stream-detectors';

const W = 10_000;
const T0 = 1_767_225_600_000;
let seed = 7;
const noise = () => ((seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5) * 10;

function window(i: number, value: number, name = 'api_latency_ms', route = '/play'): AggregateWindow {
  const labels: Record<string, string> = route ? { route } : {};
  return { series: { name, labels }, seriesId: `${name}${route}`, windowStart: T0 + i * W, windowMs: W, count: 10, sum: 10 * value, min: value, max: value, p50: value, p95: value, p99: value, unit: 'ms' };
}

function detectors(tenants: Record<string, DetectorSettingInput[]>): StreamDetectors {
  const d = new StreamDetectors({ anomalyThreshold: 0.6, windowMs: W });
  for (const [tenant, settings] of Object.entries(tenants)) {
    const { resolved, issues } = resolveSettings(TenantDetectorsSchema.parse(settings));
    expect(issues).toEqual([]);
    d.configure(tenant, resolved);
  }
  return d;
}

const seasonal: DetectorSettingInput[] = [{ type: 'seasonal' }];

describe('StreamDetectors', () => {
  it('seasonal: stays quiet on a steady noisy series, then signals a latency spike with an explanation', () => {
    const d = detectors({ 'label-a': seasonal });
    const quiet: Signal[] = [];
    for (let i = 0; i < 2000; i++) quiet.push(...d.feed({ tenant: 'label-a', partition: 0, window: window(i, 120 + noise()) }, 100));
    expect(quiet.filter((s) => s.timestamp > T0 + 200 * W)).toEqual([]);
    const [spike] = d.feed({ tenant: 'label-a', partition: 0, window: window(2000, 480) }, 100);
    expect(spike).toMatchObject({ kind: 'anomaly', detector: 'seasonal', value: 480, statistic: 'p95', series: { name: 'api_latency_ms' } });
    expect(spike.score).toBeGreaterThanOrEqual(0.6);
    expect(spike.explanation).toMatch(/^p95 value 480 ms/);
  });

  it("keeps tenants apart and bounds each tenant's units: a flood evicts only its own least recently fed", () => {
    const d = detectors({ 'label-a': seasonal, 'label-b': seasonal });
    for (let i = 0; i < 1000; i++) d.feed({ tenant: 'label-b', partition: 0, window: window(i, 120 + noise()) }, 3);
    for (let r = 0; r < 50; r++) d.feed({ tenant: 'label-a', partition: 0, window: window(0, 100, 'api_latency_ms', `/flood-${r}`) }, 3);
    expect(d.size('label-a')).toBe(3);
    expect(d.size('label-b')).toBe(1);
    expect(d.feed({ tenant: 'label-b', partition: 0, window: window(1000, 120 + noise()) }, 3)).toEqual([]);
    expect(d.feed({ tenant: 'label-b', partition: 0, window: window(1001, 480) }, 3)).toHaveLength(1);
    d.forgetTenant('label-a');
    expect(d.size()).toBe(1);
  });

  it('forecast: signals "p95 will cross 250" on a ramp, once per cooldown, with the interval and the crossing time', () => {
    const d = detectors({ t: [{ type: 'holt-winters', series: [{ metric: 'api_latency_ms' }], threshold: 250, horizonMs: 30 * 60_000, cooldownWindows: 50 }] });
    const out: Signal[] = [];
    for (let i = 0; i < 100; i++) out.push(...d.feed({ tenant: 't', partition: 0, window: window(i, 120 + noise() / 5) }, 100));
    expect(out).toEqual([]);
    // +0.5 per 10 s window: 250 is 260 windows (43 min) away at i = 100, inside the 180-window horizon from i ≈ 180.
    for (let i = 100; i < 300; i++) out.push(...d.feed({ tenant: 't', partition: 0, window: window(i, 120 + (i - 100) * 0.5 + noise() / 5) }, 100));
    expect(out.length).toBeGreaterThanOrEqual(2);
    expect(out.length).toBeLessThanOrEqual(4);
    const [first] = out;
    expect(first).toMatchObject({ kind: 'forecast', detector: 'holt-winters', statistic: 'p95', forecast: { threshold: 250, direction: 'above', horizonMs: 1_800_000, confidence: 0.95 } });
    expect(first.explanation).toMatch(/^p95 \S+ ms will cross 250 within 30 min \(expected in \d+ min/);
    const f = first.forecast!;
    expect(f.crossesAt).toBeGreaterThan(first.timestamp);
    expect(f.crossesAt).toBeLessThanOrEqual(first.timestamp + 1_800_000);
    // Honest about the ramp: the value at crossesAt on the true line is within 10 % of 250.
    const trueAt = 120 + ((f.crossesAt - T0) / W - 1 - 100) * 0.5;
    expect(Math.abs(trueAt - 250)).toBeLessThan(25);
    expect(f.lower).toBeLessThan(f.mean);
    expect(f.upper).toBeGreaterThan(f.mean);
    expect(out[1].timestamp - first.timestamp).toBeGreaterThanOrEqual(50 * W);
  });

  it('drift: PSI and KS between the reference and the current windows, above the thresholds only', () => {
    const d = detectors({ t: [{ type: 'drift', series: [{ metric: 'model_inference_latency_ms' }], params: { referenceSize: 60, currentSize: 30 } }] });
    const out: Signal[] = [];
    for (let i = 0; i < 150; i++) out.push(...d.feed({ tenant: 't', partition: 0, window: window(i, 50 + noise(), 'model_inference_latency_ms', '') }, 100));
    expect(out).toEqual([]);
    for (let i = 150; i < 180; i++) out.push(...d.feed({ tenant: 't', partition: 0, window: window(i, 80 + noise(), 'model_inference_latency_ms', '') }, 100));
    expect(out.length).toBe(1);
    expect(out[0]).toMatchObject({ kind: 'drift', detector: 'drift', statistic: 'mean', drift: { psiThreshold: 0.2, alpha: 0.01, referenceWindows: 60, currentWindows: 30 } });
    expect(out[0].drift!.psi).toBeGreaterThan(0.2);
    expect(out[0].drift!.pValue).toBeLessThan(0.01);
  });

  it('outlier: one forest per tenant over the same instant of its chosen series, with each metric contribution', () => {
    const d = detectors({
      t: [{ type: 'isolation-forest', series: [{ metric: 'api_latency_ms' }, { metric: 'queue_depth' }], params: { sampleSize: 64, windowSize: 256, retrainEvery: 32 }, warmupWindows: 64 }],
    });
    const out: Signal[] = [];
    for (let i = 0; i < 300; i++) {
      const load = 100 + 20 * Math.sin(i / 10);
      out.push(...d.feed({ tenant: 't', partition: 0, window: window(i, load + noise() / 5) }, 100));
      out.push(...d.feed({ tenant: 't', partition: 0, window: window(i, load / 10 + noise() / 50, 'queue_depth', '') }, 100));
    }
    expect(out).toEqual([]);
    // Latency ordinary, queue depth far off its usual relation.
    d.feed({ tenant: 't', partition: 0, window: window(300, 100) }, 100);
    const [o] = d.feed({ tenant: 't', partition: 0, window: window(300, 60, 'queue_depth', '') }, 100);
    expect(o).toMatchObject({ kind: 'outlier', detector: 'isolation-forest', series: { name: 'queue_depth' }, value: 60, timestamp: T0 + 301 * W });
    expect(o.score).toBeGreaterThanOrEqual(0.7);
    expect(o.outlier!.metrics.map((m) => m.series.name)).toEqual(['queue_depth', 'api_latency_ms']);
    expect(o.outlier!.metrics[0].contribution).toBeGreaterThan(0.5);
  });

  it('resumes from JSON snapshots plus a replay of the windows after them with the same signals as an uninterrupted run', () => {
    const settings: DetectorSettingInput[] = [
      { type: 'seasonal' },
      { type: 'holt-winters', series: [{ metric: 'api_latency_ms' }], threshold: 250, cooldownWindows: 20 },
      { type: 'isolation-forest', series: [{ metric: 'api_latency_ms' }, { metric: 'queue_depth' }], params: { sampleSize: 32, windowSize: 128, retrainEvery: 16 }, warmupWindows: 40, minScore: 0.6 },
    ];
    const windows: AggregateWindow[] = [];
    for (let i = 0; i < 600; i++) {
      const v = i < 400 ? 120 + noise() : 120 + (i - 400) * 0.6 + noise();
      windows.push(window(i, i === 450 ? 600 : v), window(i, 10 + noise() / 10, 'queue_depth', ''));
    }
    const straight = detectors({ t: settings });
    const expected = windows.flatMap((w) => straight.feed({ tenant: 't', partition: 0, window: w }, 100));
    expect(expected.filter((s) => s.timestamp > T0 + 380 * W).map((s) => s.kind)).toEqual(expect.arrayContaining(['anomaly', 'forecast']));

    // Saved at window 350, crashed at 390 (40 windows stored but not in the snapshot), resumed.
    const first = detectors({ t: settings });
    for (const w of windows.slice(0, 700)) first.feed({ tenant: 't', partition: 0, window: w }, 100);
    const saved = JSON.parse(JSON.stringify(first.snapshotUnits('t')));
    for (const w of windows.slice(700, 780)) first.feed({ tenant: 't', partition: 0, window: w }, 100);
    const resumed = detectors({ t: settings });
    expect(resumed.restore('t', saved)).toEqual({ restored: 4, skipped: 0 });
    // The replay starts before the snapshot's windows (as a stream mark may): those are skipped.
    const replayed = windows.slice(600, 780).flatMap((w) => resumed.feed({ tenant: 't', partition: 0, window: w }, 100));
    expect(replayed.length).toBe(expected.filter((s) => s.timestamp > T0 + 350 * W && s.timestamp <= T0 + 390 * W).length);
    const after = windows.slice(780).flatMap((w) => resumed.feed({ tenant: 't', partition: 0, window: w }, 100));
    expect(after).toEqual(expected.filter((s) => s.timestamp > T0 + 390 * W));
    expect(after.length).toBeGreaterThan(0);
    // A fresh start (no snapshot) would not give the same signals.
    const fresh = detectors({ t: settings });
    expect(windows.slice(780).flatMap((w) => fresh.feed({ tenant: 't', partition: 0, window: w }, 100))).not.toEqual(after);
  });

  it('refuses invalid params through the detector registry, naming the setting and the path', () => {
    const { resolved, issues } = resolveSettings(
      TenantDetectorsSchema.parse([
        { type: 'drift', series: [{ metric: 'm' }], params: { bins: 1, window: 3 } },
        { type: 'seasonal' },
      ]),
    );
    expect(resolved.map((r) => r.setting.type)).toEqual(['seasonal']);
    expect(issues).toEqual([
      { index: 0, path: 'params.window', message: 'is not a drift setting' },
      { index: 0, path: 'params.bins', message: 'must be an integer >= 2' },
    ]);
  });
});
