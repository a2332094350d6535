import { ControlRecordSchema } from './control-record.schema';
import { SignalSchema, TenantDetectorsSchema, type Signal } from './signal.schema';

const T = Date.UTC(2026, 0, 1);
const series = { name: 'api_latency_ms', labels: { route: '/play' } };
const base = { detector: 'holt-winters', series, timestamp: T, value: 212, score: 0.8, explanation: 'p95 will cross 250 within 30 min', statistic: 'p95' as const };
const forecast = { threshold: 250, direction: 'above' as const, horizonMs: 1_800_000, crossesAt: T + 600_000, probability: 0.8, mean: 268, lower: 231, upper: 305, confidence: 0.95 };
const drift = { psi: 1.9, ks: 0.93, pValue: 1e-12, psiThreshold: 0.2, alpha: 0.01, referenceWindows: 60, currentWindows: 30 };
const outlier = { threshold: 0.7, metrics: [{ series, value: 212, contribution: 0.8 }, { series: { name: 'queue_depth', labels: {} }, value: 3, contribution: 0.2 }] };

describe('signal schema', () => {
  it.each<[string, Signal]>([
    ['anomaly as before (no statistic, no block)', { kind: 'anomaly', detector: 'seasonal', series, timestamp: T, value: 480, score: 0.97, explanation: 'p95 value 480 ms' }],
    ['forecast', { ...base, kind: 'forecast', forecast }],
    ['drift', { ...base, kind: 'drift', detector: 'drift', drift }],
    ['outlier', { ...base, kind: 'outlier', detector: 'isolation-forest', outlier }],
  ])('accepts %s', (_name, signal) => {
    expect(SignalSchema.parse(signal)).toEqual(signal);
  });

  it.each<[string, unknown, string]>([
    ['a forecast without its block', { ...base, kind: 'forecast' }, 'forecast'],
    ['an anomaly with a drift block', { ...base, kind: 'anomaly', drift }, 'drift'],
    ['a drift p-value above 1', { ...base, kind: 'drift', drift: { ...drift, pValue: 1.5 } }, 'drift.pValue'],
    ['an outlier without metrics', { ...base, kind: 'outlier', outlier: { threshold: 0.7, metrics: [] } }, 'outlier.metrics'],
    ['an unknown statistic', { ...base, kind: 'forecast', forecast, statistic: 'p42' }, 'statistic'],
  ])('refuses %s at its path', (_name, value, path) => {
    const r = SignalSchema.safeParse(value);
    expect(r.success).toBe(false);
    expect(r.error!.issues.map((i) => i.path.join('.'))).toContain(path);
  });

  it('carries per-tenant detector settings on the tenant record, with defaults filled in', () => {
    const record = ControlRecordSchema.parse({
      kind: 'tenant',
      tenant: 'label-nova',
      displayName: 'Nova',
      status: 'active',
      shards: 1,
      locale: 'en',
      createdAt: '2026-01-01T00:00:00Z',
      detectors: [
        { type: 'holt-winters', series: [{ metric: 'api_latency_ms' }], threshold: 250 },
        { type: 'isolation-forest', series: [{ metric: 'api_latency_ms' }, { metric: 'queue_depth' }], params: { trees: 50 } },
      ],
    });
    expect(record.kind === 'tenant' && record.detectors).toEqual([
      { type: 'holt-winters', series: [{ metric: 'api_latency_ms' }], threshold: 250, statistic: 'p95', direction: 'above', horizonMs: 1_800_000, minProbability: 0.5, warmupWindows: 30, cooldownWindows: 30 },
      { type: 'isolation-forest', series: [{ metric: 'api_latency_ms' }, { metric: 'queue_depth' }], statistic: 'p95', minScore: 0.7, warmupWindows: 64, cooldownWindows: 30, params: { trees: 50 } },
    ]);
    const bad = TenantDetectorsSchema.safeParse([{ type: 'isolation-forest', series: [{ metric: 'only_one' }] }, { type: 'kalman' }]);
    expect(bad.success).toBe(false);
    expect(bad.error!.issues.map((i) => i.path.join('.'))).toEqual(['0.series', '1.type']);
  });
});
