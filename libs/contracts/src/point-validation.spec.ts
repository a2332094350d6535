import { DEFAULT_POINT_LIMITS, isSafeText, POINT_LIMIT_CEILINGS, toPointIssues, validatePoint, validatePoints, type DiscardReason, type PointRules } from './point-validation';
import { validateIngestBatch } from './telemetry-batch.schema';
import { DEFAULT_TENANT_LIMITS } from './tenant-limits.schema';

const NOW = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const rules: PointRules = { limits: DEFAULT_POINT_LIMITS, now: NOW, tenant: 'label-x', unknownFields: 'refuse' };
const point = { name: 'api_latency_ms', labels: { route: '/play', region: 'eu-west-1' }, value: 312.5, timestamp: NOW, unit: 'ms' };

/** The issues of one point, as `[path, reason]`, paths from the point. */
function problems(p: unknown, r: PointRules = rules): [string, DiscardReason][] {
  const result = validatePoint(p, r);
  return toPointIssues(result.issues).map((i) => [i.path, i.reason]);
}
function messageOf(p: unknown, r: PointRules = rules): string {
  return toPointIssues(validatePoint(p, r).issues)[0]?.message ?? '';
}

describe('validatePoint', () => {
  it('accepts a typical point and returns it normalised (labels default to {}, unknown fields stripped when asked)', () => {
    expect(validatePoint(point, rules)).toEqual({ point, issues: [] });
    expect(validatePoint({ name: 'up', value: 1, timestamp: NOW }, rules).point).toEqual({ name: 'up', labels: {}, value: 1, timestamp: NOW });
    expect(validatePoint({ ...point, extra: 1 }, { ...rules, unknownFields: 'strip' }).point).toEqual(point);
  });

  it('refuses what is not a point, and unknown fields at the edge', () => {
    expect(problems(null)).toEqual([['(root)', 'invalid_point']]);
    expect(problems([point])).toEqual([['(root)', 'invalid_point']]);
    expect(problems({ ...point, lables: {} })).toEqual([['lables', 'invalid_point']]);
    expect(problems({ ...point, labels: 'route=/play' })).toEqual([['labels', 'invalid_point']]);
  });

  it('checks metric names against the Prometheus data model and the length limit', () => {
    expect(problems({ ...point, name: undefined })).toEqual([['name', 'missing_metric_name']]);
    expect(problems({ ...point, name: 42 })).toEqual([['name', 'missing_metric_name']]);
    for (const bad of ['api-latency', '1abc', 'é_latency', 'a b', '']) expect(problems({ ...point, name: bad })[0]?.[1]).toMatch(/invalid_metric_name|missing_metric_name/);
    for (const good of ['a', '_x', ':ns:metric', 'A_b:9']) expect(problems({ ...point, name: good })).toEqual([]);
    expect(problems({ ...point, name: 'a'.repeat(201) })).toEqual([['name', 'metric_name_too_long']]);
    expect(messageOf({ ...point, name: 'a'.repeat(201) })).toBe(
      'metric name length is 201, over the tenant limit maxMetricNameLength=200 (raise it per tenant via control: PATCH /v1/tenants/label-x/limits)',
    );
  });

  it('checks label names: pattern, __ prefix, le and quantile reserved, length', () => {
    const withLabel = (k: string, v = 'x') => ({ ...point, labels: { [k]: v } });
    expect(problems(withLabel('route-name'))).toEqual([['labels.route-name', 'invalid_label_name']]);
    expect(problems(withLabel('9lives'))).toEqual([['labels.9lives', 'invalid_label_name']]);
    expect(problems(withLabel('a:b'))).toEqual([['labels.a:b', 'invalid_label_name']]);
    expect(problems(withLabel(''))).toEqual([['labels.', 'invalid_label_name']]);
    expect(problems(withLabel('__name__'))).toEqual([['labels.__name__', 'reserved_label_name']]);
    expect(problems(withLabel('__meta'))).toEqual([['labels.__meta', 'reserved_label_name']]);
    expect(problems(withLabel('le'))).toEqual([['labels.le', 'reserved_label_name']]);
    expect(problems(withLabel('quantile'))).toEqual([['labels.quantile', 'reserved_label_name']]);
    expect(messageOf(withLabel('quantile'))).toMatch(/reserved: exports add it/);
    expect(problems(withLabel('_private'))).toEqual([]);
    expect(problems(withLabel('lE'))).toEqual([]);
    expect(problems(withLabel('a'.repeat(1025)))).toEqual([[`labels.${'a'.repeat(1025)}`, 'label_name_too_long']]);
  });

  it('checks label values: strings, length, no control characters, well-formed Unicode', () => {
    const withValue = (v: unknown) => ({ ...point, labels: { route: v } });
    expect(problems(withValue(3))).toEqual([['labels.route', 'invalid_label_value']]);
    expect(problems(withValue('a\u0000b'))).toEqual([['labels.route', 'invalid_label_value']]);
    expect(problems(withValue('line\nbreak'))).toEqual([['labels.route', 'invalid_label_value']]);
    expect(problems(withValue('del\u007f'))).toEqual([['labels.route', 'invalid_label_value']]);
    expect(messageOf(withValue('a\u0000b'))).toMatch(/control characters/);
    expect(problems(withValue('\ud800'))).toEqual([['labels.route', 'invalid_label_value']]);
    expect(problems(withValue('x\udc00y'))).toEqual([['labels.route', 'invalid_label_value']]);
    expect(messageOf(withValue('\ud800'))).toMatch(/lone surrogate/);
    for (const good of ['', 'café', '日本', '🎵 play', 'tab-free text', '\u0080 C1 is allowed']) expect(problems(withValue(good))).toEqual([]);
    expect(problems(withValue('v'.repeat(2049)))).toEqual([['labels.route', 'label_value_too_long']]);
    expect(messageOf(withValue('v'.repeat(3000)))).toBe(
      'label value length is 3000, over the tenant limit maxLabelValueLength=2048 (raise it per tenant via control: PATCH /v1/tenants/label-x/limits)',
    );
  });

  it('limits the label count per series', () => {
    const labels = Object.fromEntries(Array.from({ length: 31 }, (_, i) => [`l${i}`, 'v']));
    expect(problems({ ...point, labels })).toEqual([['labels', 'max_label_names_per_series']]);
    expect(messageOf({ ...point, labels })).toMatch(/label count is 31, over the tenant limit maxLabelNamesPerSeries=30/);
    delete labels['l30'];
    expect(problems({ ...point, labels })).toEqual([]);
  });

  it('follows the tenant limits it is given', () => {
    const raised: PointRules = { ...rules, limits: { ...DEFAULT_POINT_LIMITS, maxLabelValueLength: 8000, maxLabelNamesPerSeries: 2 } };
    expect(problems({ ...point, labels: { route: 'v'.repeat(5000) } }, raised)).toEqual([]);
    expect(problems({ ...point, labels: { a: '1', b: '2', c: '3' } }, raised)).toEqual([['labels', 'max_label_names_per_series']]);
  });

  it('refuses non-numbers, non-finite values and |value| above 1e300', () => {
    expect(problems({ ...point, value: 'fast' })).toEqual([['value', 'invalid_value']]);
    expect(problems({ ...point, value: null })).toEqual([['value', 'invalid_value']]);
    for (const v of [NaN, Infinity, -Infinity]) expect(problems({ ...point, value: v })).toEqual([['value', 'invalid_value']]);
    for (const v of [1e308, -1e301, Number.MAX_VALUE]) expect(problems({ ...point, value: v })).toEqual([['value', 'value_out_of_range']]);
    for (const v of [1e300, -1e300, 0, -0, 5e-324]) expect(problems({ ...point, value: v })).toEqual([]);
    // The reason for the bound: 1e8 points at the bound still sum to a finite number.
    expect(Number.isFinite(1e300 * 1e8)).toBe(true);
  });

  it('refuses timestamps that are not integer ms, too old or too far in the future', () => {
    expect(problems({ ...point, timestamp: '2026-01-01' })).toEqual([['timestamp', 'invalid_timestamp']]);
    expect(problems({ ...point, timestamp: NOW + 0.5 })).toEqual([['timestamp', 'invalid_timestamp']]);
    expect(problems({ ...point, timestamp: Math.floor(NOW / 1000) })).toEqual([['timestamp', 'invalid_timestamp']]);
    expect(messageOf({ ...point, timestamp: Math.floor(NOW / 1000) })).toMatch(/milliseconds/);
    expect(problems({ ...point, timestamp: NOW * 1000 })).toEqual([['timestamp', 'invalid_timestamp']]);
    const hour = DEFAULT_TENANT_LIMITS.maxSampleAgeMs;
    const grace = DEFAULT_TENANT_LIMITS.creationGracePeriodMs;
    expect(problems({ ...point, timestamp: NOW - hour })).toEqual([]);
    expect(problems({ ...point, timestamp: NOW - hour - 1 })).toEqual([['timestamp', 'sample_too_old']]);
    expect(problems({ ...point, timestamp: NOW + grace })).toEqual([]);
    expect(problems({ ...point, timestamp: NOW + grace + 1 })).toEqual([['timestamp', 'too_far_in_future']]);
    expect(messageOf({ ...point, timestamp: Date.UTC(2099, 0, 1) })).toMatch(/over the tenant limit creationGracePeriodMs=600000 \(raise it per tenant via control/);
    // Without a clock (Kafka consumers), only the epoch range applies.
    expect(problems({ ...point, timestamp: NOW - 30 * 86_400_000 }, { ...rules, now: undefined })).toEqual([]);
  });

  it('checks the optional unit', () => {
    expect(problems({ ...point, unit: 5 })).toEqual([['unit', 'invalid_unit']]);
    expect(problems({ ...point, unit: 'u'.repeat(33) })).toEqual([['unit', 'invalid_unit']]);
    expect(problems({ ...point, unit: 'm\u0000s' })).toEqual([['unit', 'invalid_unit']]);
  });

  it('lists every problem of a point, each with its own path', () => {
    expect(problems({ name: 'bad-name', labels: { le: '1', ok: 'a\u0000' }, value: Infinity, timestamp: NOW + 86_400_000 })).toEqual([
      ['name', 'invalid_metric_name'],
      ['labels.le', 'reserved_label_name'],
      ['labels.ok', 'invalid_label_value'],
      ['value', 'invalid_value'],
      ['timestamp', 'too_far_in_future'],
    ]);
  });
});

describe('validatePoints', () => {
  it('returns the points only when all are valid, counting each refused one once under its first reason', () => {
    const ok = validatePoints([point, point], rules);
    expect(ok.points).toHaveLength(2);
    const bad = validatePoints([point, { ...point, value: NaN, name: 'x-y' }, { ...point, value: 1e301 }], rules);
    expect(bad.points).toBeUndefined();
    expect(bad.invalidPoints).toBe(2);
    expect(Object.fromEntries(bad.discarded)).toEqual({ invalid_metric_name: 1, value_out_of_range: 1 });
    expect(toPointIssues(bad.issues, ['points']).map((i) => i.path)).toEqual(['points.1.name', 'points.1.value', 'points.2.value']);
  });

  it('lists at most maxIssues and counts the rest', () => {
    const r = validatePoints(Array.from({ length: 500 }, () => ({ ...point, value: 'x' })), rules, 10);
    expect(r.issues).toHaveLength(10);
    expect(r.omittedIssues).toBe(490);
    expect(r.discarded.get('invalid_value')).toBe(500);
  });

  it('the ceilings are the maxima of TenantLimitsSchema', () => {
    expect(POINT_LIMIT_CEILINGS).toMatchObject({ maxLabelNamesPerSeries: 100, maxLabelNameLength: 4096, maxLabelValueLength: 16_384, maxMetricNameLength: 4096 });
  });
});

describe('validateIngestBatch', () => {
  const limits = DEFAULT_POINT_LIMITS;
  it('accepts a batch whole, or refuses it whole with every problem and per-reason counts', () => {
    const ok = validateIngestBatch({ points: [point] }, { limits, now: NOW });
    expect(ok).toMatchObject({ ok: true, batch: { points: [point], events: [] } });
    const bad = validateIngestBatch({ points: [point, point, { ...point, labels: { __name__: 'x' } }], events: [{ type: 'active_users', timestamp: NOW, count: 1, window: '1m' }] }, { limits, now: NOW });
    expect(bad.ok).toBe(false);
    if (bad.ok) return;
    expect(bad.issues).toEqual([{ path: 'points.2.labels.__name__', reason: 'reserved_label_name', message: expect.stringContaining('reserved') }]);
    expect(Object.fromEntries(bad.discardedPoints)).toEqual({ reserved_label_name: 1, invalid_batch: 2 });
    expect(Object.fromEntries(bad.discardedEvents)).toEqual({ invalid_batch: 1 });
  });

  it('refuses a tenant field, empty batches and events outside the time window', () => {
    const tenant = validateIngestBatch({ tenant: 'other', points: [point] }, { limits });
    expect(tenant).toMatchObject({ ok: false, issues: [{ path: '(root)', reason: 'invalid_batch', message: expect.stringContaining("the tenant is always the API key's") }] });
    expect(validateIngestBatch({}, { limits })).toMatchObject({ ok: false, issues: [{ path: 'points' }] });
    const late = validateIngestBatch({ events: [{ type: 'active_users', timestamp: NOW - 7_200_000, count: 1, window: '1m' }] }, { limits, now: NOW });
    expect(late).toMatchObject({ ok: false, issues: [{ path: 'events.0.timestamp', reason: 'sample_too_old' }] });
  });

  it('refuses control characters in event strings', () => {
    const r = validateIngestBatch({ events: [{ type: 'song_play', timestamp: NOW, trackId: 't\u0000', userId: 'u', durationMs: 1 }] }, { limits });
    expect(r).toMatchObject({ ok: false, issues: [{ path: 'events.0.trackId', reason: 'invalid_event' }] });
  });
});

describe('isSafeText', () => {
  it('accepts surrogate pairs and refuses lone ones at either end', () => {
    expect(isSafeText('🎵')).toBe(true);
    expect(isSafeText('a\ud83c')).toBe(false);
    expect(isSafeText('\udfb5a')).toBe(false);
  });
});
