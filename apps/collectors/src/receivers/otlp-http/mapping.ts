/**
 * OTLP metrics → the edge's points (name, labels, value, timestamp in ms, unit). The rules are
 * documented in docs/receivers.md ("OTLP/HTTP metrics"); in short:
 *
 * - names and attribute keys are sanitized to Prometheus names (`http.server.duration` →
 *   `http_server_duration`); keys the edge reserves (`__*`, `le`, `quantile`) or that start with a
 *   digit get the prefix `key_`; keys that sanitize to the same label have their values joined with `;`
 *   (in key order), as Prometheus' OTLP translation does;
 * - labels = the data point's attributes, then the resource attributes listed in the config
 *   (`service.name` → `service_name`, …) and `otel_scope_name`, each only if the name is still free
 *   (the point's own attributes win); empty values are dropped (an empty label is no label);
 * - gauge and non-monotonic sum → `<name>`; monotonic sum → `<name>` (cumulative as is);
 *   delta sums and histograms carry `otel_temporality="delta"`;
 * - histogram and exponential histogram → `<name>_count`, `<name>_sum`, `<name>_min`, `<name>_max`
 *   (the last three when present); buckets are not carried;
 * - summary → `<name>_count`, `<name>_sum`, and one series per quantile: `<name>_p50`, `_p99_9`, …
 *   (`_min` for q=0, `_max` for q=1), since the edge reserves the `quantile` label.
 *
 * Every point the edge would refuse is dropped here (checked with the edge's own validator and the
 * tenant's limits) and counted per reason, so a request is never refused whole for one bad point —
 * OTLP's partial success. Works on plain objects in OTLP/JSON's shape (camelCase fields, int64 as
 * strings or numbers, enums as numbers), which is also what the protobuf decoder produces.
 */
import { isSafeText, validatePoint, type IngestBatch, type Labels, type MetricPoint, type PointLimits } from '@headroom/contracts';

export interface OtlpHttpConfig {
  /** Resource attributes made labels, in this order (their label names sanitized like any key). At most 16. */
  resourceAttributes: string[];
  /** Adds the instrumentation scope's name as `otel_scope_name`. */
  scopeNameLabel: boolean;
}

export const DEFAULT_OTLP_HTTP_CONFIG: OtlpHttpConfig = {
  resourceAttributes: ['service.name', 'service.namespace', 'service.instance.id', 'deployment.environment.name', 'deployment.environment', 'k8s.namespace.name'],
  scopeNameLabel: true,
};

export const MAX_RESOURCE_LABELS = 16;

/**
 * Points within this margin of the tenant's sample age limit are dropped here as `sample_too_old`:
 * the edge checks again with its own, later clock (and a split request's later parts later still),
 * and one point it refused would refuse a whole part.
 */
export const AGE_MARGIN_MS = 15_000;

export const TEMPORALITY_LABEL = 'otel_temporality';
export const SCOPE_LABEL = 'otel_scope_name';

/** AggregationTemporality (opentelemetry/proto/metrics/v1/metrics.proto). */
const DELTA = 1;
const CUMULATIVE = 2;
/** DataPointFlags.FLAG_NO_RECORDED_VALUE_MASK: the point marks a series gone (Prometheus' stale marker). */
const FLAG_NO_RECORDED_VALUE = 1;

/** The body is not an ExportMetricsServiceRequest: a 400. */
export class OtlpShapeError extends Error {}

export interface MappedRequest {
  batch: IngestBatch;
  /** OTLP data points in the request. */
  dataPoints: number;
  /** OTLP data points of which at least one derived point was dropped (OTLP's rejectedDataPoints). */
  rejectedDataPoints: number;
  /** Dropped edge points per reason (headroom_discarded_samples_total). */
  discarded: Record<string, number>;
}

// ---------------------------------------------------------------- names

/** `[a-zA-Z_:][a-zA-Z0-9_:]*`: other characters become `_`, a leading digit gets a `_` before it. */
export function sanitizeMetricName(name: string): string {
  const s = name.replace(/[^a-zA-Z0-9_:]/g, '_');
  return /^[0-9]/.test(s) ? `_${s}` : s;
}

/**
 * `[a-zA-Z_][a-zA-Z0-9_]*`: other characters become `_`; a key starting with a digit or `__`, or
 * equal to `le`/`quantile` (reserved by the edge: the exports add them), is prefixed with `key_`.
 * Empty keys give `undefined` (dropped).
 */
export function sanitizeLabelName(key: string): string | undefined {
  if (key === '') return undefined;
  const s = key.replace(/[^a-zA-Z0-9_]/g, '_');
  if (/^[0-9]/.test(s) || s.startsWith('__') || s === 'le' || s === 'quantile') return `key_${s}`;
  return s;
}

/** A summary quantile's suffix: 0.5 → `_p50`, 0.999 → `_p99_9`, 0 → `_min`, 1 → `_max`. */
export function quantileSuffix(q: number): string {
  if (q === 0) return '_min';
  if (q === 1) return '_max';
  const pct = Number((q * 100).toPrecision(6));
  return `_p${String(pct).replace('.', '_')}`;
}

// ---------------------------------------------------------------- values

type Obj = Record<string, unknown>;

function obj(v: unknown, path: string): Obj {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new OtlpShapeError(`${path} must be an object`);
  return v as Obj;
}

function arr(v: unknown, path: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new OtlpShapeError(`${path} must be an array`);
  return v;
}

/** double or int64 as OTLP/JSON writes them: a number, or a string ("12", "NaN", "Infinity"). */
function num(v: unknown, path: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '') return Number(v);
  throw new OtlpShapeError(`${path} must be a number or a numeric string`);
}

/** fixed64 nanoseconds since the epoch → whole milliseconds (0 when absent: refused as invalid_timestamp). */
function nanosToMillis(v: unknown, path: string): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === 'number') return Math.floor(v / 1e6);
  if (typeof v === 'string' && /^[0-9]{1,20}$/.test(v)) return Number(BigInt(v) / 1_000_000n);
  throw new OtlpShapeError(`${path} must be nanoseconds since the epoch (an integer or a decimal string)`);
}

/** AnyValue → a label value: strings as is, others stringified (arrays and maps as JSON). */
export function anyValueToString(v: unknown): string {
  const o = obj(v, 'value');
  if (typeof o['stringValue'] === 'string') return o['stringValue'];
  if (typeof o['boolValue'] === 'boolean') return String(o['boolValue']);
  if (o['intValue'] !== undefined) return String(o['intValue']);
  if (o['doubleValue'] !== undefined) return String(num(o['doubleValue'], 'doubleValue'));
  if (typeof o['bytesValue'] === 'string') return o['bytesValue'];
  if (o['arrayValue'] !== undefined) return JSON.stringify(toJson(o));
  if (o['kvlistValue'] !== undefined) return JSON.stringify(toJson(o));
  return '';
}

function toJson(v: unknown): unknown {
  const o = obj(v, 'value');
  if (o['arrayValue'] !== undefined) return arr(obj(o['arrayValue'], 'arrayValue')['values'], 'arrayValue.values').map(toJson);
  if (o['kvlistValue'] !== undefined) {
    const out: Record<string, unknown> = {};
    for (const kv of arr(obj(o['kvlistValue'], 'kvlistValue')['values'], 'kvlistValue.values')) {
      const e = obj(kv, 'kvlistValue.values[]');
      out[String(e['key'] ?? '')] = toJson(e['value']);
    }
    return out;
  }
  if (typeof o['boolValue'] === 'boolean') return o['boolValue'];
  if (o['doubleValue'] !== undefined) return num(o['doubleValue'], 'doubleValue');
  return anyValueToString(o);
}

/** Attributes → sanitized labels; keys sanitizing to the same name are joined with `;` in key order. */
export function attributesToLabels(attributes: unknown, path: string): Labels {
  const byLabel = new Map<string, [string, string][]>();
  for (const kv of arr(attributes, path)) {
    const e = obj(kv, path);
    const key = typeof e['key'] === 'string' ? e['key'] : '';
    const name = sanitizeLabelName(key);
    const value = anyValueToString(e['value']);
    if (name === undefined || value === '') continue;
    const list = byLabel.get(name) ?? byLabel.set(name, []).get(name)!;
    list.push([key, value]);
  }
  const labels: Labels = {};
  for (const [name, list] of byLabel) {
    labels[name] = list.length === 1 ? list[0][1] : list.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map((x) => x[1]).join(';');
  }
  return labels;
}

// ---------------------------------------------------------------- the request

interface Context {
  limits: PointLimits;
  now: number;
  tenant: string;
  out: MetricPoint[];
  discarded: Record<string, number>;
  rejected: number;
  dataPoints: number;
}

/** Maps a decoded ExportMetricsServiceRequest. Throws OtlpShapeError when it is not one. */
export function mapExportMetricsRequest(request: unknown, input: { limits: PointLimits; now: number; tenant: string }, config: OtlpHttpConfig = DEFAULT_OTLP_HTTP_CONFIG): MappedRequest {
  const ctx: Context = { ...input, out: [], discarded: {}, rejected: 0, dataPoints: 0 };
  // The edge checks the age again later (see AGE_MARGIN_MS).
  ctx.limits = { ...input.limits, maxSampleAgeMs: Math.max(0, input.limits.maxSampleAgeMs - AGE_MARGIN_MS) };
  const root = obj(request, '(root)');
  arr(root['resourceMetrics'], 'resourceMetrics').forEach((rmRaw, i) => {
    const rmPath = `resourceMetrics.${i}`;
    const rm = obj(rmRaw, rmPath);
    const resource = attributesToLabels(obj(rm['resource'], `${rmPath}.resource`)['attributes'], `${rmPath}.resource.attributes`);
    const context: Labels = {};
    for (const key of config.resourceAttributes) {
      const name = sanitizeLabelName(key);
      if (name !== undefined && resource[name] !== undefined) context[name] = resource[name];
    }
    arr(rm['scopeMetrics'], `${rmPath}.scopeMetrics`).forEach((smRaw, j) => {
      const smPath = `${rmPath}.scopeMetrics.${j}`;
      const sm = obj(smRaw, smPath);
      const scope = obj(sm['scope'], `${smPath}.scope`);
      const scoped: Labels = { ...context };
      if (config.scopeNameLabel && typeof scope['name'] === 'string' && scope['name'] !== '') scoped[SCOPE_LABEL] = scope['name'];
      arr(sm['metrics'], `${smPath}.metrics`).forEach((mRaw, k) => mapMetric(ctx, obj(mRaw, `${smPath}.metrics.${k}`), `${smPath}.metrics.${k}`, scoped));
    });
  });
  return { batch: { points: ctx.out, events: [] }, dataPoints: ctx.dataPoints, rejectedDataPoints: ctx.rejected, discarded: ctx.discarded };
}

function mapMetric(ctx: Context, m: Obj, path: string, scoped: Labels): void {
  const name = sanitizeMetricName(typeof m['name'] === 'string' ? m['name'] : '');
  const unit = typeof m['unit'] === 'string' && m['unit'] !== '' && m['unit'].length <= 32 && isSafeText(m['unit']) ? m['unit'] : undefined;
  const each = (data: unknown, kind: string, fn: (dp: Obj, labels: Labels, timestamp: number) => MetricPoint[] | string) => {
    const d = obj(data, `${path}.${kind}`);
    const temporality = d['aggregationTemporality'] === undefined ? undefined : num(d['aggregationTemporality'], `${path}.${kind}.aggregationTemporality`);
    arr(d['dataPoints'], `${path}.${kind}.dataPoints`).forEach((dpRaw, n) => {
      const dpPath = `${path}.${kind}.dataPoints.${n}`;
      const dp = obj(dpRaw, dpPath);
      ctx.dataPoints++;
      // Sums and histograms must say what their values accumulate over (Prometheus drops them too).
      if (kind !== 'gauge' && kind !== 'summary' && temporality !== DELTA && temporality !== CUMULATIVE) return reject(ctx, 'otlp_unspecified_temporality', 1);
      const flags = num(dp['flags'], `${dpPath}.flags`) ?? 0;
      if (flags & FLAG_NO_RECORDED_VALUE) return reject(ctx, 'otlp_no_recorded_value', 1);
      const labels: Labels = attributesToLabels(dp['attributes'], `${dpPath}.attributes`);
      for (const [k, v] of Object.entries(scoped)) if (labels[k] === undefined) labels[k] = v;
      if (temporality === DELTA) labels[TEMPORALITY_LABEL] = 'delta';
      const produced = fn(dp, labels, nanosToMillis(dp['timeUnixNano'], `${dpPath}.timeUnixNano`));
      if (typeof produced === 'string') return reject(ctx, produced, 1);
      admit(ctx, produced);
    });
  };
  const point = (suffix: string, labels: Labels, value: number | undefined, timestamp: number, withUnit = true): MetricPoint | undefined =>
    value === undefined ? undefined : { name: name + suffix, labels, value, timestamp, ...(withUnit && unit ? { unit } : {}) };
  const present = (ps: (MetricPoint | undefined)[]) => ps.filter((p): p is MetricPoint => p !== undefined);
  const numberValue = (dp: Obj, dpPath: string) => (dp['asDouble'] !== undefined ? num(dp['asDouble'], `${dpPath}.asDouble`) : num(dp['asInt'], `${dpPath}.asInt`));

  if (m['gauge'] !== undefined || m['sum'] !== undefined) {
    const kind = m['gauge'] !== undefined ? 'gauge' : 'sum';
    each(m[kind], kind, (dp, labels, ts) => {
      const value = numberValue(dp, `${path}.${kind}`);
      return value === undefined ? 'otlp_missing_value' : [point('', labels, value, ts)!];
    });
  } else if (m['histogram'] !== undefined || m['exponentialHistogram'] !== undefined) {
    const kind = m['histogram'] !== undefined ? 'histogram' : 'exponentialHistogram';
    each(m[kind], kind, (dp, labels, ts) =>
      present([
        point('_count', labels, num(dp['count'], `${path}.count`) ?? 0, ts, false),
        point('_sum', labels, num(dp['sum'], `${path}.sum`), ts),
        point('_min', labels, num(dp['min'], `${path}.min`), ts),
        point('_max', labels, num(dp['max'], `${path}.max`), ts),
      ]),
    );
  } else if (m['summary'] !== undefined) {
    each(m['summary'], 'summary', (dp, labels, ts) => {
      const ps = present([point('_count', labels, num(dp['count'], `${path}.count`) ?? 0, ts, false), point('_sum', labels, num(dp['sum'], `${path}.sum`) ?? 0, ts)]);
      for (const qvRaw of arr(dp['quantileValues'], `${path}.quantileValues`)) {
        const qv = obj(qvRaw, `${path}.quantileValues[]`);
        const q = num(qv['quantile'], `${path}.quantileValues[].quantile`) ?? 0;
        if (!(q >= 0 && q <= 1)) return 'otlp_invalid_quantile';
        ps.push(point(quantileSuffix(q), labels, num(qv['value'], `${path}.quantileValues[].value`) ?? 0, ts)!);
      }
      return ps;
    });
  }
  // A metric with no data (or a kind this version does not know) carries no points.
}

/** Keeps the points of one OTLP data point that the edge would take; counts the others. */
function admit(ctx: Context, points: MetricPoint[]): void {
  let dropped = false;
  for (const p of points) {
    const checked = validatePoint(p, { limits: ctx.limits, now: ctx.now, tenant: ctx.tenant, unknownFields: 'refuse' });
    if (checked.point) ctx.out.push(checked.point);
    else {
      dropped = true;
      const reason = checked.issues[0]?.reason ?? 'invalid_point';
      ctx.discarded[reason] = (ctx.discarded[reason] ?? 0) + 1;
    }
  }
  if (dropped) ctx.rejected++;
}

function reject(ctx: Context, reason: string, n: number): void {
  ctx.discarded[reason] = (ctx.discarded[reason] ?? 0) + n;
  ctx.rejected++;
}

/** OTLP's partialSuccess.errorMessage: what was dropped, per reason. */
export function rejectionMessage(mapped: Pick<MappedRequest, 'rejectedDataPoints' | 'dataPoints' | 'discarded'>): string {
  const reasons = Object.entries(mapped.discarded)
    .sort((a, b) => b[1] - a[1])
    .map(([r, n]) => `${n} ${r}`)
    .join(', ');
  return `${mapped.rejectedDataPoints} of ${mapped.dataPoints} data points rejected (samples dropped: ${reasons}); see docs/receivers.md and docs/limits.md`;
}
