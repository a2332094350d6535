import { seriesId, type AggregateWindow, type AlertRuleInput, type Labels } from '@headroom/contracts';
import { compileRule } from './evaluate';
import { alertFingerprint, RuleEvaluator, stepAlert, type RuleEvaluatorState, type Transition } from './lifecycle';

const T0 = 1_767_225_600_000;
const at = (i: number) => T0 + i * 10_000;

function win(labels: Labels, avg: number, start: number, name = 'latency'): AggregateWindow {
  return { series: { name, labels }, seriesId: seriesId(name, labels), windowStart: start, windowMs: 10_000, count: 1, sum: avg, min: avg, max: avg, p50: avg, p95: avg, p99: avg };
}

const API = { endpoint: '/api' };

/** Feeds one value per instant (undefined = the series sent nothing) and lists the transitions as [instant, kind]. */
function drive(rule: Partial<AlertRuleInput>, values: Array<number | undefined>, evaluator = new RuleEvaluator()) {
  const compiled = compileRule({ id: 'latency-high', expr: 'avg(latency) > 100', ...rule });
  const out: Array<[number, Transition['kind']]> = [];
  values.forEach((v, i) => {
    const windows = v === undefined ? [] : [win(API, v, at(i))];
    for (const t of evaluator.evaluate(compiled, { at: at(i), windows })) out.push([i, t.kind]);
  });
  return { out, evaluator, compiled };
}

describe('alertFingerprint', () => {
  it('is 32 hex chars, independent of label order, distinct per rule and per label set', () => {
    const f = alertFingerprint('r1', { a: '1', b: '2' });
    expect(f).toMatch(/^[0-9a-f]{32}$/);
    expect(alertFingerprint('r1', { b: '2', a: '1' })).toBe(f);
    expect(alertFingerprint('r2', { a: '1', b: '2' })).not.toBe(f);
    expect(alertFingerprint('r1', { a: '1', b: '3' })).not.toBe(f);
    // Separators inside values cannot forge another label set.
    expect(alertFingerprint('r1', { a: '1,b=2' })).not.toBe(alertFingerprint('r1', { a: '1', b: '2' }));
  });
});

describe('RuleEvaluator', () => {
  it('fires at once without for, and resolves when the value drops', () => {
    expect(drive({}, [50, 150, 150, 90]).out).toEqual([
      [1, 'firing'],
      [3, 'resolved'],
    ]);
  });

  it('is pending for `for`, then fires, with activeAt, firedAt and resolvedAt set', () => {
    const compiled = compileRule({ id: 'latency-high', expr: 'avg(latency) > 100', for: '30s' });
    const ev = new RuleEvaluator();
    const all: Transition[] = [];
    [150, 150, 150, 150, 150, 20].forEach((v, i) => all.push(...ev.evaluate(compiled, { at: at(i), windows: [win(API, v, at(i))] })));
    const fingerprint = alertFingerprint('latency-high', API);
    expect(all).toEqual([
      { kind: 'pending', ruleId: 'latency-high', fingerprint, labels: API, value: 150, at: at(0), activeAt: at(0) },
      { kind: 'firing', ruleId: 'latency-high', fingerprint, labels: API, value: 150, at: at(3), activeAt: at(0), firedAt: at(3) },
      { kind: 'resolved', ruleId: 'latency-high', fingerprint, labels: API, value: 150, at: at(5), activeAt: at(0), firedAt: at(3), resolvedAt: at(5) },
    ]);
  });

  it('drops a pending alert whose condition stops, silently, and starts over later', () => {
    expect(drive({ for: '30s' }, [150, 150, 90, 150, 150, 150, 150]).out).toEqual([
      [0, 'pending'],
      [3, 'pending'],
      [6, 'firing'],
    ]);
  });

  it('keeps firing for keepFiringFor after the condition stops, counted from the first instant it did not hold', () => {
    expect(drive({ keepFiringFor: '30s' }, [150, 90, 90, 90, 90]).out).toEqual([
      [0, 'firing'],
      [4, 'resolved'], // stopped at 1; 1 + 30 s = 4
    ]);
  });

  it('restarts the keepFiringFor count when the condition holds again meanwhile', () => {
    expect(drive({ keepFiringFor: '20s' }, [150, 90, 150, 90, 90, 90]).out).toEqual([
      [0, 'firing'],
      [5, 'resolved'],
    ]);
  });

  it('applies hysteresis: once firing, stays firing until the value crosses resolveThreshold', () => {
    expect(drive({ resolveThreshold: 80 }, [150, 95, 85, 81, 79, 95, 101]).out).toEqual([
      [0, 'firing'],
      [4, 'resolved'],
      [6, 'firing'], // 95 is above 80 but below 100: not enough to fire again
    ]);
  });

  it('applies hysteresis downwards for <', () => {
    expect(drive({ expr: 'avg(latency) < 10', resolveThreshold: 20 }, [5, 15, 19, 25]).out).toEqual([
      [0, 'firing'],
      [3, 'resolved'],
    ]);
  });

  it('counts a series that sent no window as not holding', () => {
    expect(drive({}, [150, undefined]).out).toEqual([
      [0, 'firing'],
      [1, 'resolved'],
    ]);
    expect(drive({ keepFiringFor: '10s' }, [150, undefined, 150, undefined, undefined]).out).toEqual([
      [0, 'firing'],
      [4, 'resolved'],
    ]);
  });

  it('ignores stale instants: a replayed window never flaps an alert', () => {
    const { evaluator, compiled } = drive({}, [150, 90]);
    // Replays of both instants, including the breaching one, after the alert resolved.
    expect(evaluator.evaluate(compiled, { at: at(0), windows: [win(API, 150, at(0))] })).toEqual([]);
    expect(evaluator.evaluate(compiled, { at: at(1), windows: [win(API, 150, at(1))] })).toEqual([]);
    expect(evaluator.activeAlerts('latency-high').size).toBe(0);
    expect(evaluator.evaluate(compiled, { at: at(2), windows: [win(API, 150, at(2))] }).map((t) => t.kind)).toEqual(['firing']);
  });

  it('tracks each label set as its own alert', () => {
    const compiled = compileRule({ id: 'r', expr: 'avg(latency) > 100' });
    const ev = new RuleEvaluator();
    const a = { endpoint: '/a' };
    const b = { endpoint: '/b' };
    const kinds = (i: number, windows: AggregateWindow[]) => ev.evaluate(compiled, { at: at(i), windows }).map((t) => `${t.labels.endpoint} ${t.kind}`);
    expect(kinds(0, [win(a, 150, at(0)), win(b, 50, at(0))])).toEqual(['/a firing']);
    expect(kinds(1, [win(a, 150, at(1)), win(b, 150, at(1))])).toEqual(['/b firing']);
    expect(kinds(2, [win(a, 50, at(2)), win(b, 150, at(2))])).toEqual(['/a resolved']);
  });

  it('fires absent() when the metric stops, and resolves when it is back', () => {
    const compiled = compileRule({ id: 'no-heartbeat', expr: 'absent(heartbeat{job="billing"})', for: '20s' });
    const ev = new RuleEvaluator();
    const beat = (i: number) => [win({ job: 'billing' }, 1, at(i), 'heartbeat')];
    const seen: string[] = [];
    [beat(0), [], [], [], beat(4)].forEach((windows, i) => {
      for (const t of ev.evaluate(compiled, { at: at(i), windows })) seen.push(`${i} ${t.kind} ${JSON.stringify(t.labels)}`);
    });
    expect(seen).toEqual(['1 pending {"job":"billing"}', '3 firing {"job":"billing"}', '4 resolved {"job":"billing"}']);
    expect(ev.shouldEvaluate(compiled, new Set())).toBe(true);
  });

  it('must evaluate a rule with active alerts even when the instant lacks its metrics', () => {
    const { evaluator, compiled } = drive({}, [150]);
    expect(evaluator.shouldEvaluate(compiled, new Set(['other']))).toBe(true);
    evaluator.evaluate(compiled, { at: at(1), windows: [] });
    expect(evaluator.shouldEvaluate(compiled, new Set(['other']))).toBe(false);
    expect(evaluator.shouldEvaluate(compiled, new Set(['latency']))).toBe(true);
  });

  it('exports JSON state that a new evaluator resumes from', () => {
    const { evaluator, compiled } = drive({ for: '20s' }, [150, 150]);
    const state = JSON.parse(JSON.stringify(evaluator.exportState())) as RuleEvaluatorState;
    expect(state.rules['latency-high'].lastAt).toBe(at(1));
    expect(Object.values(state.rules['latency-high'].alerts)).toEqual([{ status: 'pending', labels: API, activeAt: at(0), lastEvalAt: at(1), value: 150 }]);
    const resumed = new RuleEvaluator(state);
    expect(resumed.evaluate(compiled, { at: at(1), windows: [win(API, 150, at(1))] })).toEqual([]);
    expect(resumed.evaluate(compiled, { at: at(2), windows: [win(API, 150, at(2))] }).map((t) => [t.kind, t.activeAt])).toEqual([['firing', at(0)]]);
  });

  it('forgets an erased subject\'s alerts without a transition, and they do not come back as resolved', () => {
    const compiled = compileRule({ id: 'r', expr: 'avg(latency) > 100' });
    const ev = new RuleEvaluator();
    const subject = { user: 'u_subject-pseudonym' };
    const other = { user: 'u_other-pseudonym' };
    expect(ev.evaluate(compiled, { at: at(0), windows: [win(subject, 150, at(0)), win(other, 150, at(0))] }).map((t) => [t.kind, t.labels.user])).toEqual([
      ['firing', 'u_subject-pseudonym'],
      ['firing', 'u_other-pseudonym'],
    ]);
    expect(ev.forgetAlerts((labels) => Object.values(labels).includes('u_subject-pseudonym'))).toBe(1);
    // Both series stop: only the other subject's alert resolves; the forgotten one is never mentioned again.
    expect(ev.evaluate(compiled, { at: at(1), windows: [] }).map((t) => [t.kind, t.labels.user])).toEqual([['resolved', 'u_other-pseudonym']]);
    expect(JSON.stringify(ev.exportState())).not.toContain('u_subject-pseudonym');
  });

  it('changes nothing until a plan is committed, so a failed notification is retried', () => {
    const compiled = compileRule({ id: 'r', expr: 'avg(latency) > 100' });
    const ev = new RuleEvaluator();
    const snapshot = { at: at(0), windows: [win(API, 150, at(0))] };
    expect(ev.plan(compiled, snapshot).transitions.map((t) => t.kind)).toEqual(['firing']);
    const retry = ev.plan(compiled, snapshot);
    expect(retry.transitions.map((t) => t.kind)).toEqual(['firing']);
    retry.commit();
    expect(ev.plan(compiled, snapshot).transitions).toEqual([]);
  });

  it('stores a non-finite value as null, so state survives JSON', () => {
    const compiled = compileRule({ id: 'r', expr: 'avg(errors) / avg(latency) > 1' });
    const ev = new RuleEvaluator();
    const [t] = ev.evaluate(compiled, { at: at(0), windows: [win(API, 5, at(0), 'errors'), win(API, 0, at(0))] });
    expect(t).toMatchObject({ kind: 'firing', value: null });
  });
});

describe('stepAlert', () => {
  const ids = { ruleId: 'r', fingerprint: 'f' };
  const timing = { forMs: 0, keepFiringForMs: 0 };
  it('leaves an inactive alert without state when the condition does not hold', () => {
    expect(stepAlert(undefined, { at: T0, labels: {}, fires: false, holdsWhileFiring: true }, timing, ids)).toEqual({ kind: 'advance', next: null });
  });
  it('calls an instant equal to the last one stale', () => {
    const state = { status: 'firing' as const, labels: {}, activeAt: T0, firedAt: T0, lastEvalAt: T0, value: 1 };
    expect(stepAlert(state, { at: T0, labels: {}, fires: false, holdsWhileFiring: false }, timing, ids)).toEqual({ kind: 'stale' });
  });
});
