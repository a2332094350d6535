import type { AggregateWindow, ThresholdRule } from '@headroom/contracts';
import { alertFingerprint, evaluateWindow } from './rule-evaluator';

const window = (over: Partial<AggregateWindow> = {}): AggregateWindow => ({
  series: { name: 'api_latency_ms', labels: { route: '/play', region: 'eu' } },
  seriesId: 's1',
  windowStart: 1_767_225_600_000,
  windowMs: 10_000,
  count: 4,
  sum: 800,
  min: 50,
  max: 400,
  p50: 180,
  p95: 312,
  p99: 390,
  ...over,
});
const rule = (over: Partial<ThresholdRule> = {}): ThresholdRule => ({ id: 'latency', metric: 'api_latency_ms', stat: 'p95', op: '>', threshold: 250, severity: 'warning', ...over });

describe('evaluateWindow', () => {
  it('reports a breach when the stat crosses the threshold, and the window bounds', () => {
    const [e] = evaluateWindow(window(), [rule()]);
    expect(e).toMatchObject({ value: 312, breached: true, windowStart: 1_767_225_600_000, windowEnd: 1_767_225_610_000 });
    expect(evaluateWindow(window({ p95: 250 }), [rule()])[0]!.breached).toBe(false);
    expect(evaluateWindow(window({ p95: 250 }), [rule({ op: '>=' })])[0]!.breached).toBe(true);
  });

  it.each([
    ['avg', '>', 199, true],
    ['avg', '>', 200, false],
    ['count', '<', 5, true],
    ['sum', '<=', 800, true],
    ['min', '<', 50, false],
    ['max', '>=', 400, true],
    ['p50', '>', 180, false],
    ['p99', '>', 389, true],
  ] as const)('%s %s %d → %s', (stat, op, threshold, breached) => {
    expect(evaluateWindow(window(), [rule({ stat, op, threshold })])[0]!.breached).toBe(breached);
  });

  it('ignores rules on other metrics', () => {
    expect(evaluateWindow(window(), [rule({ metric: 'error_rate' })])).toEqual([]);
  });

  it('evaluates every matching rule separately', () => {
    const out = evaluateWindow(window(), [rule({ id: 'warn', threshold: 250 }), rule({ id: 'crit', threshold: 500, severity: 'critical' })]);
    expect(out.map((e) => [e.rule.id, e.breached])).toEqual([
      ['warn', true],
      ['crit', false],
    ]);
    expect(out[0]!.fingerprint).not.toBe(out[1]!.fingerprint);
  });
});

describe('alertFingerprint', () => {
  it('does not depend on label order', () => {
    expect(alertFingerprint('r', 'm', { a: '1', b: '2' })).toBe(alertFingerprint('r', 'm', { b: '2', a: '1' }));
  });

  it('differs by rule, metric and any label value', () => {
    const base = alertFingerprint('r', 'm', { a: '1' });
    expect(alertFingerprint('r2', 'm', { a: '1' })).not.toBe(base);
    expect(alertFingerprint('r', 'm2', { a: '1' })).not.toBe(base);
    expect(alertFingerprint('r', 'm', { a: '2' })).not.toBe(base);
    expect(alertFingerprint('r', 'm', { a: '1', b: '' })).not.toBe(base);
  });

  it('cannot be forged by moving text between labels', () => {
    expect(alertFingerprint('r', 'm', { a: '1,b=2' })).not.toBe(alertFingerprint('r', 'm', { a: '1', b: '2' }));
  });
});
