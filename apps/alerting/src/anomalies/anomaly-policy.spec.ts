import type { AnomalyAlerting, Signal } from '@headroom/contracts';
import { burstDecision, ruleWants, signalRulesOf } from './anomaly-policy';

const t0 = 1_767_225_600_000;
const signal = (patch: Partial<Signal> = {}): Signal => ({
  kind: 'anomaly',
  detector: 'seasonal',
  series: { name: 'api_latency_ms', labels: { route: '/play' } },
  timestamp: t0,
  value: 480,
  score: 0.95,
  explanation: 'p95 value 480 ms is 31.2σ above the expected 120 ms',
  ...patch,
});
const config: AnomalyAlerting = { minScore: 0.8, severity: 'warning' };
const forecast = (crossesAt: number) => ({ threshold: 250, direction: 'above' as const, horizonMs: 3_600_000, crossesAt, probability: 0.9, mean: 300, lower: 260, upper: 340, confidence: 0.95 });

describe('signal rules', () => {
  const page = (anomalies: AnomalyAlerting | undefined, sig: Signal) => signalRulesOf(anomalies, undefined).some((r) => ruleWants(r, sig));
  it('pages nobody when the tenant has no anomalies config and no signal rules', () => {
    expect(signalRulesOf(undefined, undefined)).toEqual([]);
  });
  it('pages at or above minScore only', () => {
    expect(page(config, signal({ score: 0.8 }))).toBe(true);
    expect(page(config, signal({ score: 0.79 }))).toBe(false);
    expect(page(config, signal({ score: 0.5 }))).toBe(false);
  });
  it('pages only for listed metrics; an empty or absent list means every metric', () => {
    expect(page({ ...config, metrics: ['api_latency_ms'] }, signal())).toBe(true);
    expect(page({ ...config, metrics: ['api_errors'] }, signal())).toBe(false);
    expect(page({ ...config, metrics: [] }, signal())).toBe(true);
  });
  it('the anomalies block ignores signals that are not anomalies', () => {
    expect(page(config, signal({ kind: 'forecast', forecast: forecast(t0 + 600_000) }))).toBe(false);
  });
  it('a forecast rule pages a crossing predicted within its horizon, not a later one', () => {
    const rule = { id: 'will-be-slow', kind: 'forecast' as const, minScore: 0.7, severity: 'warning' as const, within: '30m' };
    expect(ruleWants(rule, signal({ kind: 'forecast', score: 0.9, forecast: forecast(t0 + 20 * 60_000) }))).toBe(true);
    expect(ruleWants(rule, signal({ kind: 'forecast', score: 0.9, forecast: forecast(t0 + 40 * 60_000) }))).toBe(false);
    expect(ruleWants(rule, signal({ kind: 'forecast', score: 0.5, forecast: forecast(t0 + 20 * 60_000) }))).toBe(false);
    expect(ruleWants(rule, signal())).toBe(false);
  });
});

describe('burstDecision', () => {
  const burst = 15 * 60_000;
  it('pages the first anomaly of a series', () => {
    expect(burstDecision(undefined, t0, burst)).toBe('page');
  });
  it('suppresses anomalies within the window after a page, and pages again once it has passed', () => {
    expect(burstDecision(t0, t0 + 10_000, burst)).toBe('suppress');
    expect(burstDecision(t0, t0 + burst - 1, burst)).toBe('suppress');
    expect(burstDecision(t0, t0 + burst, burst)).toBe('page');
  });
  it('lets the paged signal itself through again (the notification log dedupes it) but never an older one', () => {
    expect(burstDecision(t0, t0, burst)).toBe('page');
    expect(burstDecision(t0, t0 - 10_000, burst)).toBe('suppress');
    expect(burstDecision(t0, t0 - 2 * burst, burst)).toBe('suppress');
  });
});
