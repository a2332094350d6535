import { matchesLabels, parseQuery, parseSelector, PromQLError } from './promql';

const error = (f: () => unknown): PromQLError => {
  try {
    f();
  } catch (e) {
    if (e instanceof PromQLError) return e;
    throw e;
  }
  throw new Error('expected a PromQLError');
};

describe('PromQL subset', () => {
  it('parses a selector with every matcher type', () => {
    const s = parseSelector('api_latency_ms{route="/play", code=~"5..", region!="eu", env!~"dev|test"}');
    expect(s.metric).toBe('api_latency_ms');
    expect(s.matchers.map((m) => [m.name, m.type, m.value])).toEqual([
      ['__name__', '=', 'api_latency_ms'],
      ['route', '=', '/play'],
      ['code', '=~', '5..'],
      ['region', '!=', 'eu'],
      ['env', '!~', 'dev|test'],
    ]);
    expect(matchesLabels(s.matchers, { __name__: 'api_latency_ms', route: '/play', code: '503', region: 'us' })).toBe(true);
    expect(matchesLabels(s.matchers, { __name__: 'api_latency_ms', route: '/play', code: '503', region: 'us', env: 'dev' })).toBe(false);
    expect(matchesLabels(s.matchers, { __name__: 'api_latency_ms', route: '/play', code: '5030' })).toBe(false);
  });

  it('anchors regexes and treats a missing label as empty, as Prometheus does', () => {
    const s = parseSelector('{__name__=~"api_.*", team=""}');
    expect(s.metric).toBeUndefined();
    expect(matchesLabels(s.matchers, { __name__: 'api_x' })).toBe(true);
    expect(matchesLabels(s.matchers, { __name__: 'xapi_x' })).toBe(false);
    expect(matchesLabels(s.matchers, { __name__: 'api_x', team: 'a' })).toBe(false);
  });

  it('keeps commas, braces and escaped quotes inside values', () => {
    const s = parseSelector('m{a="x,y}", b="say \\"hi\\""}');
    expect(s.matchers.slice(1).map((m) => m.value)).toEqual(['x,y}', 'say "hi"']);
  });

  it('refuses selectors that match everything, unquoted values and unclosed braces', () => {
    expect(error(() => parseSelector('{job=""}')).reason).toMatch(/at least one matcher that does not match the empty string/);
    expect(error(() => parseSelector('{job=~".*"}')).reason).toMatch(/does not match the empty string/);
    expect(error(() => parseSelector('m{a=b}')).reason).toMatch(/double-quoted/);
    expect(error(() => parseSelector("m{a='b'}")).reason).toMatch(/double-quoted/);
    expect(error(() => parseSelector('m{a="b"')).reason).toMatch(/unterminated|unclosed/);
    expect(error(() => parseSelector('m{a="b"} x')).position).toBe(9);
  });

  it('parses the _over_time functions and quantile_over_time', () => {
    expect(parseQuery('avg_over_time(m{a="1"}[5m])')).toMatchObject({ kind: 'over_time', fn: 'avg_over_time', rangeMs: 300_000, selector: { metric: 'm' } });
    expect(parseQuery(' quantile_over_time( 0.95 , m [1m30s] ) ')).toMatchObject({ fn: 'quantile_over_time', quantile: 0.95, rangeMs: 90_000 });
    expect(parseQuery('m{quantile="0.95"}')).toMatchObject({ kind: 'selector', selector: { metric: 'm' } });
  });

  it('names what it does not support', () => {
    expect(error(() => parseQuery('rate(m[5m])')).reason).toMatch(/function "rate" is not supported/);
    expect(error(() => parseQuery('m[5m]')).reason).toMatch(/argument of an _over_time function/);
    expect(error(() => parseQuery('quantile_over_time(1.5, m[1m])')).reason).toMatch(/between 0 and 1/);
    expect(error(() => parseQuery('avg_over_time(m[5x])')).reason).toMatch(/invalid range/);
    expect(error(() => parseQuery('sum(m)')).reason).toMatch(/not supported/);
  });
});
