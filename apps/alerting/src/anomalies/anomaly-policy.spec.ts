import type { Signal } from '@headroom/contracts';
import { burstDecision, wantsPage } from './anomaly-policy';

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
const config = { minScore: 0.8, severity: 'warning' as const };

describe('wantsPage', () => {
  it('pages nobody when the tenant has no anomalies config', () => {
    expect(wantsPage(undefined, signal())).toBe(false);
  });
  it('pages at or above minScore only', () => {
    expect(wantsPage(config, signal({ score: 0.8 }))).toBe(true);
    expect(wantsPage(config, signal({ score: 0.79 }))).toBe(false);
    expect(wantsPage(config, signal({ score: 0.5 }))).toBe(false);
  });
  it('pages only for listed metrics; an empty or absent list means every metric', () => {
    expect(wantsPage({ ...config, metrics: ['api_latency_ms'] }, signal())).toBe(true);
    expect(wantsPage({ ...config, metrics: ['api_errors'] }, signal())).toBe(false);
    expect(wantsPage({ ...config, metrics: [] }, signal())).toBe(true);
  });
  it('ignores signals that are not anomalies', () => {
    expect(wantsPage(config, signal({ kind: 'forecast' }))).toBe(false);
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
