import { formatMatcher, matches, MatcherSyntaxError, parseMatcherLines } from './matchers';

const one = (text: string) => {
  const ms = parseMatcherLines([text]);
  expect(ms).toHaveLength(1);
  return ms[0]!;
};

describe('parseMatcherLines', () => {
  it.each([
    ['severity="critical"', 'severity', '=', 'critical'],
    ['env!="dev"', 'env', '!=', 'dev'],
    ['team=~"a|b"', 'team', '=~', 'a|b'],
    ['team!~"ops.*"', 'team', '!~', 'ops.*'],
    ['foo=bar', 'foo', '=', 'bar'],
    ['  foo  =   bar baz  ', 'foo', '=', 'bar baz'],
    ['msg="say \\"hi\\""', 'msg', '=', 'say "hi"'],
    ['path="C:\\\\tmp"', 'path', '=', 'C:\\tmp'],
    ['lines="a\\nb"', 'lines', '=', 'a\nb'],
    ['re=~"\\d+"', 're', '=~', '\\d+'],
    ['empty=""', 'empty', '=', ''],
    ['ns:sub="x"', 'ns:sub', '=', 'x'],
  ])('%s', (text, name, type, value) => {
    expect(one(text)).toMatchObject({ name, type, value });
  });

  it('reads several matchers from one line, commas inside quotes belonging to the value', () => {
    expect(parseMatcherLines(['{a="1,2", b=~"x|y"}', 'c!=3']).map((m) => [m.name, m.type, m.value])).toEqual([
      ['a', '=', '1,2'],
      ['b', '=~', 'x|y'],
      ['c', '!=', '3'],
    ]);
  });

  it.each(['severity', '="x"', '1abc="x"', 'a="unterminated', 'a=b"c', 'a="x"y"', 'a=~"("', 'a=="x"', 'a="1",,b="2"'])('refuses %s', (text) => {
    expect(() => parseMatcherLines([text])).toThrow(MatcherSyntaxError);
  });

  it('names the offending line', () => {
    expect(() => parseMatcherLines(['a="1"', 'b=~"["'])).toThrow(expect.objectContaining({ text: 'b=~"["' }));
  });

  it('formats a matcher so that it parses back unchanged', () => {
    for (const value of ['plain', 'with "quotes"', 'back\\slash', 'new\nline', 'comma, inside', '']) {
      const m = { name: 'x', type: '=' as const, value };
      expect(one(formatMatcher(m))).toMatchObject(m);
    }
  });
});

describe('matches', () => {
  const m = (...lines: string[]) => parseMatcherLines(lines);

  it('anchors regexes fully', () => {
    expect(matches(m('team=~"a|b"'), { team: 'a' })).toBe(true);
    expect(matches(m('team=~"a|b"'), { team: 'ab' })).toBe(false);
    expect(matches(m('team=~"b"'), { team: 'abc' })).toBe(false);
    expect(matches(m('team!~"a|b"'), { team: 'xa' })).toBe(true);
    expect(matches(m('team!~"a|b"'), { team: 'b' })).toBe(false);
  });

  it('treats a missing label as the empty value', () => {
    expect(matches(m('env!="dev"'), {})).toBe(true);
    expect(matches(m('env=""'), {})).toBe(true);
    expect(matches(m('env=~".*"'), {})).toBe(true);
    expect(matches(m('env=~".+"'), {})).toBe(false);
    expect(matches(m('env="dev"'), {})).toBe(false);
  });

  it('requires every matcher; none matches everything', () => {
    expect(matches(m('a="1"', 'b="2"'), { a: '1', b: '2' })).toBe(true);
    expect(matches(m('a="1"', 'b="2"'), { a: '1', b: '3' })).toBe(false);
    expect(matches([], { anything: 'x' })).toBe(true);
  });

  it("accepts Go's leading case-insensitive flag", () => {
    expect(matches(m('sev=~"(?i)crit.*"'), { sev: 'CRITICAL' })).toBe(true);
  });

  it('lets a regex dot match one non-BMP character, as RE2 does', () => {
    expect(matches(m('icon=~"."'), { icon: '🔥' })).toBe(true);
  });
});
