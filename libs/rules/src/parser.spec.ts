import { RuleSyntaxError, type Expr } from './ast';
import { parseExpr } from './parser';

const parse = (s: string) => parseExpr(s).expr;

function syntaxError(src: string): RuleSyntaxError {
  try {
    parseExpr(src);
  } catch (e) {
    if (e instanceof RuleSyntaxError) return e;
    throw e;
  }
  throw new Error(`expected ${src} not to parse`);
}

describe('parseExpr', () => {
  it('reads a window statistic of a selector with all four matchers', () => {
    const e = parse('p95(api_latency_ms{endpoint="/search", code!="200", region=~"eu-.*", pod!~"canary-.+",}) > 250');
    expect(e).toMatchObject({
      kind: 'binary',
      op: '>',
      lhs: {
        kind: 'stat',
        stat: 'p95',
        selector: {
          metric: 'api_latency_ms',
          matchers: [
            { label: 'endpoint', op: '=', value: '/search' },
            { label: 'code', op: '!=', value: '200' },
            { label: 'region', op: '=~', value: 'eu-.*' },
            { label: 'pod', op: '!~', value: 'canary-.+' },
          ],
        },
      },
      rhs: { kind: 'number', value: 250 },
    });
  });

  it.each(['p50', 'p95', 'p99', 'min', 'max', 'avg', 'count', 'sum', 'rate'])('%s(selector) is the window statistic', (stat) => {
    expect(parse(`${stat}(http_requests)`)).toMatchObject({ kind: 'stat', stat, selector: { metric: 'http_requests', matchers: [] } });
  });

  it('takes metric names with colons and braces left out or empty', () => {
    expect(parse('avg(job:latency:avg5m{})')).toMatchObject({ kind: 'stat', selector: { metric: 'job:latency:avg5m', matchers: [] } });
  });

  it('anchors regexes at both ends, as Prometheus does', () => {
    const e = parse('count(x{path=~"/api|/v1"})') as Extract<Expr, { kind: 'stat' }>;
    const re = e.selector.matchers[0].regex!;
    expect(re.test('/api')).toBe(true);
    expect(re.test('/v1')).toBe(true);
    expect(re.test('/api/users')).toBe(false);
    expect(re.test('x/v1')).toBe(false);
  });

  it('unescapes \\" and \\\\ in strings, so a regex can match a literal dot', () => {
    const e = parse('count(x{q="say \\"hi\\"", host=~"a\\\\.b"})') as Extract<Expr, { kind: 'stat' }>;
    expect(e.selector.matchers[0].value).toBe('say "hi"');
    expect(e.selector.matchers[1].value).toBe('a\\.b');
    expect(e.selector.matchers[1].regex!.test('a.b')).toBe(true);
    expect(e.selector.matchers[1].regex!.test('axb')).toBe(false);
  });

  it('aggregates across series with by, without, and the grouping before or after the argument', () => {
    expect(parse('sum by (endpoint, code) (sum(errors))')).toMatchObject({
      kind: 'aggregate',
      op: 'sum',
      grouping: { mode: 'by', labels: ['endpoint', 'code'] },
      expr: { kind: 'stat', stat: 'sum', selector: { metric: 'errors' } },
    });
    expect(parse('max without (pod) (p99(latency))')).toMatchObject({ kind: 'aggregate', op: 'max', grouping: { mode: 'without', labels: ['pod'] } });
    expect(parse('avg(p95(latency)) by (region)')).toMatchObject({ kind: 'aggregate', op: 'avg', grouping: { mode: 'by', labels: ['region'] }, expr: { kind: 'stat' } });
    expect(parse('count(avg(latency))')).toMatchObject({ kind: 'aggregate', op: 'count', grouping: { mode: 'by', labels: [] } });
  });

  it('gives * / precedence over + -, those over comparisons, and and/unless over or', () => {
    expect(parse('avg(a) + avg(b) * 2 > 1 or avg(c) > 2 and avg(d) < 1')).toMatchObject({
      kind: 'binary',
      op: 'or',
      lhs: { op: '>', lhs: { op: '+', rhs: { op: '*' } } },
      rhs: { op: 'and', lhs: { op: '>' }, rhs: { op: '<' } },
    });
    expect(parse('(avg(a) + avg(b)) * 2')).toMatchObject({ op: '*', lhs: { op: '+' } });
    expect(parse('avg(a) - avg(b) - avg(c)')).toMatchObject({ op: '-', lhs: { op: '-' } });
    expect(parse('avg(a) unless avg(b)')).toMatchObject({ op: 'unless' });
  });

  it('reads numbers in every form, and negative thresholds', () => {
    for (const [text, value] of [['1e3', 1000], ['0.05', 0.05], ['.5', 0.5], ['2.5E-2', 0.025], ['42', 42]] as const) {
      expect(parse(`avg(x) > ${text}`)).toMatchObject({ rhs: { kind: 'number', value } });
    }
    expect(parse('avg(x) < -5')).toMatchObject({ rhs: { kind: 'unary', op: '-', expr: { value: 5 } } });
  });

  it('reads absent(selector)', () => {
    expect(parse('absent(heartbeat{job="billing"})')).toMatchObject({ kind: 'absent', selector: { metric: 'heartbeat', matchers: [{ label: 'job', value: 'billing' }] } });
  });

  it('takes a trailing for clause, and comments', () => {
    expect(parseExpr('avg(x) > 1 for 1h30m')).toMatchObject({ for: { ms: 5_400_000, text: '1h30m' } });
    expect(parseExpr('# latency\navg(x) > 1 # too slow\n')).toMatchObject({ expr: { op: '>' } });
    expect(parseExpr('avg(x) > 1').for).toBeUndefined();
  });

  describe('errors', () => {
    it('points at the > when a call is not closed', () => {
      const e = syntaxError('p95(api_latency_ms{endpoint="/search"} > 250');
      expect([e.line, e.column]).toEqual([1, 40]);
      expect(e.reason).toBe("expected ')', found '>'");
      expect(e.toString()).toBe(
        "RuleSyntaxError: 1:40: expected ')', found '>'\n" + '  p95(api_latency_ms{endpoint="/search"} > 250\n' + '  ' + ' '.repeat(39) + '^',
      );
    });

    it('counts lines and columns from 1 on later lines', () => {
      const e = syntaxError('avg(x)\n  > 5\n  and avg(y) >');
      expect([e.line, e.column]).toEqual([3, 15]);
      expect(e.reason).toMatch(/expected an expression, found the end/);
      expect(e.toString().split('\n').slice(1)).toEqual(['    and avg(y) >', '                ^']);
    });

    it.each([
      ['avg(x) > 5 5', 12, "unexpected '5'"],
      ['latency > 5', 1, 'latency needs a window statistic'],
      ['avg(x{a="b") > 1', 12, "expected '}'"],
      ['avg(x{a="b}) > 1', 9, 'unterminated string'],
      ['avg(x{a=b}) > 1', 9, 'expected a quoted string after a='],
      ['avg(x{a=="b"}) > 1', 8, 'expected one of = != =~ !~'],
      ['avg(x{"a"="b"}) > 1', 7, 'expected a label name'],
      ['avg(x{a="\\d"}) > 1', 10, 'unknown escape \\d'],
      ['count(x{a=~"(ab"}) > 1', 12, 'invalid regex "(ab"'],
      ['count(x{a=~"(a+)+"}) > 1', 12, 'exponential'],
      ['count(x{a=~"a(?=b)"}) > 1', 12, 'lookahead'],
      ['rate(x[5m]) > 1', 7, 'range selectors'],
      ['stddev(x) > 1', 1, 'unknown function stddev()'],
      ['p95(sum(x)) > 1', 5, 'p95() takes a selector'],
      ['sum(x) by (a) > 1', 8, 'to aggregate across series write sum by (...) (sum(selector))'],
      ['sum by (a) (5) > 1', 13, 'sum aggregates series, not a number'],
      ['5 > avg(x)', 3, "needs series on its left"],
      ['avg(x) > avg(y)', 8, 'needs a number on its right'],
      ['avg(x) and 1', 8, "'and' needs series on both sides"],
      ['1 + 2', 1, 'yields a constant'],
      ['{a="b"} > 1', 1, 'needs a metric name'],
      ['avg(x) > 1 for', 15, 'expected a duration'],
      ['avg(x) > 1 for 5q', 16, 'malformed number'],
      ['avg(x) > 1 for 30m1h', 16, 'must come after larger units'],
      ['avg(x) > 1 $', 12, 'unexpected character "$"'],
      ['avg(x) > 1.2.3', 10, 'malformed number'],
      ['sum by (a b) (avg(x))', 11, "expected ')'"],
    ])('%s → column %i: %s', (src, column, reason) => {
      const e = syntaxError(src);
      expect(e.column).toBe(column);
      expect(e.reason).toContain(reason);
    });

    it('refuses absurd nesting instead of exhausting the stack', () => {
      expect(syntaxError(`${'('.repeat(100)}avg(x)${')'.repeat(100)}`).reason).toMatch(/nested deeper than 64/);
    });

    it('counts columns in characters, so carets line up after non-ASCII values', () => {
      expect(syntaxError('avg(x{city="Zürich"} > 1').column).toBe(22);
    });
  });
});
