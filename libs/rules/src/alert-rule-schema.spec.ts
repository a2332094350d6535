import { AlertRuleSchema, parseDuration } from '@headroom/contracts';

const ok = { id: 'api-errors', expr: 'avg(errors) / avg(requests) > 0.05' };
const pathsOf = (value: unknown) => {
  const r = AlertRuleSchema.safeParse(value);
  return r.success ? [] : r.error.issues.map((i) => i.path.join('.'));
};

describe('parseDuration', () => {
  it.each([
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1h30m', 5_400_000],
    ['250ms', 250],
    ['1d12h', 129_600_000],
    ['2w', 1_209_600_000],
    ['1y', 31_536_000_000],
    ['0', 0],
  ])('%s = %i ms', (s, ms) => expect(parseDuration(s)).toBe(ms));

  it.each(['', '5', '5 m', '-5m', '1.5h', '30m1h', '5m5m', 'm', '5M', '1h 30m'])('refuses %j, naming it', (s) => {
    expect(() => parseDuration(s)).toThrow(`invalid duration ${JSON.stringify(s)}`);
  });
});

describe('AlertRuleSchema', () => {
  it('accepts a full rule and defaults severity to warning', () => {
    const full = {
      ...ok,
      for: '5m',
      keepFiringFor: '10m',
      resolveThreshold: 0.02,
      severity: 'security',
      labels: { team: 'search', tier: '1' },
      annotations: { summary: 'Error ratio high', description: 'Line one\nline two' },
      runbookUrl: 'https://runbooks.example.com/api-errors',
    };
    expect(AlertRuleSchema.parse(full)).toEqual(full);
    expect(AlertRuleSchema.parse(ok).severity).toBe('warning');
  });

  it.each([
    [{ ...ok, id: 'has space' }, 'id'],
    [{ ...ok, id: 'x'.repeat(65) }, 'id'],
    [{ ...ok, expr: '' }, 'expr'],
    [{ ...ok, expr: 'x'.repeat(2001) }, 'expr'],
    [{ ...ok, for: '5 minutes' }, 'for'],
    [{ ...ok, keepFiringFor: '1x' }, 'keepFiringFor'],
    [{ ...ok, resolveThreshold: Infinity }, 'resolveThreshold'],
    [{ ...ok, severity: 'page' }, 'severity'],
    [{ ...ok, labels: { 'bad-name': 'v' } }, 'labels.bad-name'],
    [{ ...ok, labels: { __reserved: 'v' } }, 'labels.__reserved'],
    [{ ...ok, labels: { team: 'x'.repeat(257) } }, 'labels.team'],
    [{ ...ok, labels: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`l${i}`, 'v'])) }, 'labels'],
    [{ ...ok, annotations: { summary: 'x'.repeat(2001) } }, 'annotations.summary'],
    [{ ...ok, runbookUrl: 'ftp://runbooks.example.com/x' }, 'runbookUrl'],
    [{ ...ok, runbookUrl: 'not a url' }, 'runbookUrl'],
    [{ ...ok, keep_firing_for: '5m' }, ''],
  ])('rejects %j at %s', (value, path) => {
    expect(pathsOf(value)).toContain(path);
  });
});
