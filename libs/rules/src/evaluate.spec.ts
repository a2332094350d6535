import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { seriesId, type AggregateWindow, type Labels } from '@headroom/contracts';
import { RuleSyntaxError, RuleValidationError } from './ast';
import { compileRule, indexSnapshot, type Sample, type WindowSnapshot } from './evaluate';

const AT = 1_767_225_600_000;

/** A window whose count/sum give avg = value; the quantiles are spread around it so tests can tell them apart. */
function win(name: string, labels: Labels, value: number, extra: Partial<AggregateWindow> = {}): AggregateWindow {
  return {
    series: { name, labels },
    seriesId: seriesId(name, labels),
    windowStart: AT,
    windowMs: 10_000,
    count: 10,
    sum: value * 10,
    min: value - 1,
    max: value + 9,
    p50: value,
    p95: value + 5,
    p99: value + 8,
    ...extra,
  };
}

const snap = (windows: AggregateWindow[], at = AT): WindowSnapshot => ({ at, windows });
const run = (expr: string, windows: AggregateWindow[]) => sorted(compileRule({ id: 'r', expr }).evaluate(snap(windows)));
const sorted = (s: Sample[]) => [...s].sort((a, b) => JSON.stringify(a.labels).localeCompare(JSON.stringify(b.labels)));

const traffic = [
  win('errors', { endpoint: '/search', pod: 'a' }, 3),
  win('errors', { endpoint: '/search', pod: 'b' }, 1),
  win('errors', { endpoint: '/login', pod: 'a' }, 0.1),
  win('requests', { endpoint: '/search', pod: 'a' }, 20),
  win('requests', { endpoint: '/search', pod: 'b' }, 20),
  win('requests', { endpoint: '/login', pod: 'a' }, 50),
];

describe('compileRule().evaluate', () => {
  it('gives each window statistic per series, metric name dropped', () => {
    const w = [win('latency', { endpoint: '/a' }, 100, { windowMs: 5_000, count: 40, sum: 4000 })];
    const value = (stat: string) => run(`${stat}(latency)`, w)[0].value;
    expect(run('p95(latency)', w)).toEqual([{ labels: { endpoint: '/a' }, value: 105 }]);
    expect([value('p50'), value('p99'), value('min'), value('max'), value('count'), value('sum')]).toEqual([100, 108, 99, 109, 40, 4000]);
    expect(value('avg')).toBe(100);
    expect(value('rate')).toBe(8); // 40 points in 5 s
  });

  it('selects with = != =~ !~, a missing label matching as ""', () => {
    const w = [win('x', { env: 'prod', region: 'eu-west' }, 1), win('x', { env: 'staging', region: 'us-east' }, 2), win('x', { env: 'prod' }, 3), win('y', { env: 'prod' }, 4)];
    const values = (expr: string) => run(expr, w).map((s) => s.value).sort();
    expect(values('avg(x{env="prod"})')).toEqual([1, 3]);
    expect(values('avg(x{env!="prod"})')).toEqual([2]);
    expect(values('avg(x{region=~"eu-.*"})')).toEqual([1]);
    expect(values('avg(x{region=~"eu"})')).toEqual([]); // anchored: no substring match
    expect(values('avg(x{region!~"us-.*"})')).toEqual([1, 3]);
    expect(values('avg(x{region=""})')).toEqual([3]);
    expect(values('avg(x{env="prod", region=~".+"})')).toEqual([1]);
  });

  it('divides per series on identical label sets: avg(errors) / avg(requests) > 0.05', () => {
    expect(run('avg(errors) / avg(requests) > 0.05', traffic)).toEqual([{ labels: { endpoint: '/search', pod: 'a' }, value: 0.15 }]);
  });

  it('computes an error ratio per endpoint across pods', () => {
    const expr = 'sum by (endpoint) (sum(errors)) / sum by (endpoint) (sum(requests)) > 0.05';
    // /search: (30 + 10) / (200 + 200) = 0.1; /login: 1 / 500 = 0.002.
    expect(run(expr, traffic)).toEqual([{ labels: { endpoint: '/search' }, value: 0.1 }]);
  });

  it('aggregates with by, without, no grouping, and each operator', () => {
    expect(run('sum without (pod) (avg(errors))', traffic)).toEqual([
      { labels: { endpoint: '/login' }, value: 0.1 },
      { labels: { endpoint: '/search' }, value: 4 },
    ]);
    expect(run('count(avg(errors))', traffic)).toEqual([{ labels: {}, value: 3 }]);
    expect(run('max(avg(errors))', traffic)).toEqual([{ labels: {}, value: 3 }]);
    expect(run('min by (pod) (avg(errors))', traffic)).toEqual([
      { labels: { pod: 'a' }, value: 0.1 },
      { labels: { pod: 'b' }, value: 1 },
    ]);
    expect(run('avg by (endpoint) (avg(requests))', traffic)).toEqual([
      { labels: { endpoint: '/login' }, value: 50 },
      { labels: { endpoint: '/search' }, value: 20 },
    ]);
  });

  it('does scalar arithmetic both ways, unary minus, and filters with every comparison', () => {
    const w = [win('x', { k: 'a' }, 10), win('x', { k: 'b' }, 20)];
    const values = (expr: string) => run(expr, w).map((s) => s.value);
    expect(values('avg(x) * 2 + 1')).toEqual([21, 41]);
    expect(values('100 / avg(x)')).toEqual([10, 5]);
    expect(values('-avg(x)')).toEqual([-10, -20]);
    expect(values('avg(x) - 2 * 5 > 0')).toEqual([10]);
    expect(values('avg(x) >= 20')).toEqual([20]);
    expect(values('avg(x) < 20')).toEqual([10]);
    expect(values('avg(x) <= 10')).toEqual([10]);
    expect(values('avg(x) == 20')).toEqual([20]);
    expect(values('avg(x) != 20')).toEqual([10]);
    expect(values('avg(x) > -1e3')).toEqual([10, 20]);
  });

  it('drops series without a partner in vector arithmetic', () => {
    const w = [win('a', { k: '1' }, 1), win('a', { k: '2' }, 2), win('b', { k: '2' }, 4)];
    expect(run('avg(a) + avg(b)', w)).toEqual([{ labels: { k: '2' }, value: 6 }]);
  });

  it('combines vectors with and, or, unless on label sets', () => {
    const w = [win('cpu', { host: 'h1' }, 95), win('cpu', { host: 'h2' }, 97), win('cpu', { host: 'h3' }, 10), win('mem', { host: 'h1' }, 99), win('mem', { host: 'h4' }, 99)];
    const hosts = (expr: string) => run(expr, w).map((s) => [s.labels.host, s.value]);
    expect(hosts('avg(cpu) > 90 and avg(mem) > 90')).toEqual([['h1', 95]]);
    expect(hosts('avg(cpu) > 90 unless avg(mem) > 90')).toEqual([['h2', 97]]);
    expect(hosts('avg(cpu) > 90 or avg(mem) > 90')).toEqual([
      ['h1', 95],
      ['h2', 97],
      ['h4', 99],
    ]);
  });

  it('reports absent() with the equality labels only when nothing matches', () => {
    const w = [win('heartbeat', { job: 'billing', zone: 'a' }, 1)];
    expect(run('absent(heartbeat{job="billing"})', w)).toEqual([]);
    expect(run('absent(heartbeat{job="search", zone=~"a|b"})', w)).toEqual([{ labels: { job: 'search' }, value: 1 }]);
    expect(run('absent(heartbeat{job="billing"})', [])).toEqual([{ labels: { job: 'billing' }, value: 1 }]);
  });

  it('reads only the snapshot instant, and the highest revision of a window', () => {
    const w = [win('x', { k: 'a' }, 1), win('x', { k: 'a' }, 7, { revision: 2 }), win('x', { k: 'a' }, 3, { revision: 1 }), win('x', { k: 'b' }, 5, { windowStart: AT - 10_000 })];
    expect(run('avg(x)', w)).toEqual([{ labels: { k: 'a' }, value: 7 }]);
  });

  it('gives the same results from an indexed snapshot', () => {
    const rule = compileRule({ id: 'r', expr: 'sum by (endpoint) (sum(errors)) / sum by (endpoint) (sum(requests))' });
    expect(sorted(rule.evaluate(indexSnapshot(AT, traffic)))).toEqual(sorted(rule.evaluate(snap(traffic))));
    const asked: string[] = [];
    const custom: WindowSnapshot = { at: AT, windows: [], byMetric: (name) => (asked.push(name), traffic.filter((w) => w.series.name === name)) };
    expect(rule.evaluate(custom)).toHaveLength(2);
    expect(asked.sort()).toEqual(['errors', 'requests']);
  });

  it('returns raw values before the top-level comparison, and that comparison', () => {
    const rule = compileRule({ id: 'r', expr: 'avg(errors) / avg(requests) > 0.05' });
    expect(rule.comparison).toEqual({ op: '>', threshold: 0.05 });
    expect(rule.evaluateRaw(snap(traffic)).map((s) => s.value).sort()).toEqual([0.002, 0.05, 0.15]);
    expect(rule.evaluate(snap(traffic))).toHaveLength(1);
    expect(compileRule({ id: 'r', expr: 'avg(x) < -2 * 5' }).comparison).toEqual({ op: '<', threshold: -10 });
    expect(compileRule({ id: 'r', expr: 'avg(x) > 1 and avg(y) > 1' }).comparison).toBeUndefined();
  });
});

describe('compileRule', () => {
  it('compiles every example of the README', () => {
    const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
    const examples = readme.split('```promql\n')[1].split('```')[0].trim().split('\n');
    expect(examples).toHaveLength(6);
    for (const expr of examples) expect(() => compileRule({ id: 'example', expr })).not.toThrow();
  });

  it('lists the metrics read, whether it reads absence, and the timings', () => {
    const rule = compileRule({ id: 'r', expr: 'sum by (e) (sum(errors)) / sum by (e) (sum(requests)) > 0.05 unless absent(errors) for 5m', keepFiringFor: '2m' });
    expect([...rule.metrics].sort()).toEqual(['errors', 'requests']);
    expect(rule.readsAbsence).toBe(true);
    expect(rule.forMs).toBe(300_000);
    expect(rule.keepFiringForMs).toBe(120_000);
    expect(rule.rule.severity).toBe('warning');
    expect(compileRule({ id: 'r', expr: 'avg(x) > 1', for: '30s' }).forMs).toBe(30_000);
    expect(compileRule({ id: 'r', expr: 'avg(x) > 1' })).toMatchObject({ forMs: 0, keepFiringForMs: 0, readsAbsence: false });
  });

  it('refuses `for` given both in the expression and in the rule', () => {
    expect(() => compileRule({ id: 'r', expr: 'avg(x) > 1 for 5m', for: '1m' })).toThrow(RuleSyntaxError);
  });

  it('throws RuleSyntaxError for a bad expression', () => {
    expect(() => compileRule({ id: 'r', expr: 'avg(x) >' })).toThrow(RuleSyntaxError);
  });

  it('names every invalid field', () => {
    try {
      compileRule({ id: 'bad id', expr: '', for: '5 minutes', severity: 'loud' as 'info' });
      throw new Error('should have thrown');
    } catch (e) {
      expect(e).toBeInstanceOf(RuleValidationError);
      expect((e as RuleValidationError).issues.map((i) => i.path).sort()).toEqual(['expr', 'for', 'id', 'severity']);
    }
  });

  it.each([
    ['avg(x) > 1 and avg(y) > 1', 0, 'needs the expression to end in a comparison'],
    ['avg(x) == 1', 0, "no direction to apply with '=='"],
    ['avg(x) > 10', 11, 'at or below the firing threshold 10'],
    ['avg(x) < 10', 9, 'at or above the firing threshold 10'],
  ])('checks resolveThreshold against %s', (expr, resolveThreshold, message) => {
    try {
      compileRule({ id: 'r', expr, resolveThreshold });
      throw new Error('should have thrown');
    } catch (e) {
      expect((e as RuleValidationError).issues).toEqual([{ path: 'resolveThreshold', message: expect.stringContaining(message) }]);
    }
  });
});
