import { z } from 'zod';
import { defineMessage } from './message';
import { FiniteNumberSchema, safeText, TimestampMsSchema } from './common.schema';
import {
  CEILING_HINT,
  DEFAULT_POINT_LIMITS,
  formatPath,
  POINT_LIMIT_CEILINGS,
  validatePoint,
  validatePoints,
  type DiscardReason,
  type MetricPoint,
  type PointIssue,
  type PointRules,
  type RawIssue,
} from './point-validation';
import { Topics } from './topics';

export const MAX_POINTS_PER_BATCH = 10_000;
export const MAX_EVENTS_PER_BATCH = 10_000;

/** One point, checked by point-validation.ts at the contract ceilings; labels default to {}. */
export const MetricPointSchema = z.unknown().transform((value, ctx): MetricPoint => {
  const r = validatePoint(value, { limits: POINT_LIMIT_CEILINGS, limitHint: CEILING_HINT, unknownFields: 'strip' });
  if (!r.point) {
    addIssues(ctx, r.issues);
    return z.NEVER;
  }
  return r.point;
});
export type { MetricPoint };

function addIssues(ctx: z.RefinementCtx, issues: readonly RawIssue[], prefix: (string | number)[] = []): void {
  for (const i of issues) ctx.addIssue({ code: 'custom', path: [...prefix, ...i.path], message: i.message, params: { reason: i.reason } });
}

/** An array of points through the fast validator (one zod step for the whole array, not one per value). */
function pointsSchema(rules: PointRules) {
  return z.unknown().transform((value, ctx): MetricPoint[] => {
    if (!Array.isArray(value)) {
      ctx.addIssue({ code: 'custom', message: `Expected array, received ${value === null ? 'null' : typeof value}`, params: { reason: 'invalid_batch' } });
      return z.NEVER;
    }
    if (value.length > MAX_POINTS_PER_BATCH) {
      ctx.addIssue({ code: 'custom', message: `at most ${MAX_POINTS_PER_BATCH} points per batch, got ${value.length}`, params: { reason: 'invalid_batch' } });
      return z.NEVER;
    }
    const report = validatePoints(value, rules);
    if (!report.points) {
      addIssues(ctx, report.issues);
      return z.NEVER;
    }
    return report.points;
  });
}

const eventBase = { timestamp: TimestampMsSchema };
const idString = safeText(z.string().min(1).max(256));

/** Typed business, security and ML-model events from the platform (see shared/seeds). */
export const SongPlayEventSchema = z.object({
  type: z.literal('song_play'),
  ...eventBase,
  trackId: idString,
  artistId: idString.optional(),
  /** Pseudonymised by the collector before it reaches Kafka. */
  userId: idString,
  durationMs: z.number().int().nonnegative(),
  country: z.string().regex(/^[A-Z]{2}$/, 'must be an ISO 3166-1 alpha-2 code').optional(),
});
export const RevenueEventSchema = z.object({
  type: z.literal('revenue'),
  ...eventBase,
  amount: FiniteNumberSchema,
  currency: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code'),
  source: z.enum(['stream', 'subscription', 'ad', 'merch', 'licensing', 'other']),
});
export const ActiveUsersEventSchema = z.object({
  type: z.literal('active_users'),
  ...eventBase,
  count: z.number().int().nonnegative(),
  window: z.enum(['1m', '5m', '1h', '1d']),
});
export const FailedLoginEventSchema = z.object({
  type: z.literal('failed_login'),
  ...eventBase,
  userId: idString,
  reason: z.enum(['bad_password', 'unknown_user', 'locked', 'mfa_failed', 'other']),
  sourceIp: z.string().ip().optional(),
});
export const ModelInferenceEventSchema = z.object({
  type: z.literal('model_inference'),
  ...eventBase,
  model: idString,
  modelVersion: safeText(z.string().min(1).max(64)),
  latencyMs: z.number().nonnegative().finite(),
  accuracy: z.number().min(0).max(1).optional(),
});

export const PlatformEventSchema = z.discriminatedUnion('type', [
  SongPlayEventSchema,
  RevenueEventSchema,
  ActiveUsersEventSchema,
  FailedLoginEventSchema,
  ModelInferenceEventSchema,
]);
export type PlatformEvent = z.infer<typeof PlatformEventSchema>;

export interface IngestBatch {
  points: MetricPoint[];
  events: PlatformEvent[];
}

export interface IngestBatchIssues {
  /** Every problem, up to `maxIssues` (see `omittedIssues`), with its field path and discard reason. */
  issues: PointIssue[];
  omittedIssues: number;
  /** Refused samples per reason: each invalid item under its first problem, its valid siblings under `invalid_batch`. */
  discardedPoints: Map<DiscardReason, number>;
  discardedEvents: Map<DiscardReason, number>;
}

export type IngestBatchResult = ({ ok: true; batch: IngestBatch } | ({ ok: false } & IngestBatchIssues)) & { points: number; events: number };

const EventsSchema = z.array(PlatformEventSchema).max(MAX_EVENTS_PER_BATCH);
const bump = (m: Map<DiscardReason, number>, r: DiscardReason, n = 1) => n > 0 && m.set(r, (m.get(r) ?? 0) + n);

/**
 * What a producer sends (HTTP body, later OTLP/remote_write/publisher after decoding), checked whole
 * with a tenant's limits and, given `now`, the edge's time window: a batch is valid whole or not at
 * all, and every problem is listed. The tenant is never in here: it comes from the credential.
 */
export function validateIngestBatch(body: unknown, rules: Omit<PointRules, 'unknownFields'>, maxIssues = 100): IngestBatchResult {
  const issues: PointIssue[] = [];
  let omitted = 0;
  const discardedPoints = new Map<DiscardReason, number>();
  const discardedEvents = new Map<DiscardReason, number>();
  const push = (i: PointIssue) => (issues.length < maxIssues ? issues.push(i) : omitted++);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    push({ path: '(root)', message: `Expected object, received ${body === null ? 'null' : Array.isArray(body) ? 'array' : typeof body}`, reason: 'invalid_batch' });
    return { ok: false, issues, omittedIssues: 0, discardedPoints, discardedEvents, points: 0, events: 0 };
  }
  const o = body as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => k !== 'points' && k !== 'events');
  if (unknown.length) {
    const tenantHint = unknown.includes('tenant') ? ' (the tenant is always the API key\'s, never a body field)' : '';
    push({ path: '(root)', message: `Unrecognized key(s) in object: ${unknown.map((k) => `'${k}'`).join(', ')}${tenantHint}`, reason: 'invalid_batch' });
  }
  const rawPoints = o['points'] ?? [];
  const rawEvents = o['events'] ?? [];
  const nPoints = Array.isArray(rawPoints) ? rawPoints.length : 0;
  const nEvents = Array.isArray(rawEvents) ? rawEvents.length : 0;

  let points: MetricPoint[] | undefined;
  let invalidPoints = 0;
  if (!Array.isArray(rawPoints)) push({ path: 'points', message: 'points must be an array', reason: 'invalid_batch' });
  else if (rawPoints.length > MAX_POINTS_PER_BATCH) push({ path: 'points', message: `at most ${MAX_POINTS_PER_BATCH} points per batch, got ${rawPoints.length}: split it`, reason: 'invalid_batch' });
  else {
    const report = validatePoints(rawPoints, { ...rules, unknownFields: 'refuse' }, maxIssues);
    for (const i of report.issues) push({ path: formatPath(['points', ...i.path]), message: i.message, reason: i.reason });
    omitted += report.omittedIssues;
    for (const [r, n] of report.discarded) bump(discardedPoints, r, n);
    invalidPoints = report.invalidPoints;
    points = report.points;
  }

  let events: PlatformEvent[] | undefined;
  let invalidEvents = 0;
  if (!Array.isArray(rawEvents)) push({ path: 'events', message: 'events must be an array', reason: 'invalid_batch' });
  else if (rawEvents.length > MAX_EVENTS_PER_BATCH) push({ path: 'events', message: `at most ${MAX_EVENTS_PER_BATCH} events per batch, got ${rawEvents.length}: split it`, reason: 'invalid_batch' });
  else if (rawEvents.length) {
    const parsed = EventsSchema.safeParse(rawEvents);
    const bad = new Map<number, DiscardReason>();
    if (!parsed.success) {
      for (const i of parsed.error.issues) {
        push({ path: formatPath(['events', ...i.path]), message: i.message, reason: 'invalid_event' });
        if (typeof i.path[0] === 'number' && !bad.has(i.path[0])) bad.set(i.path[0], 'invalid_event');
      }
    } else {
      events = parsed.data;
      if (rules.now !== undefined) {
        const now = rules.now;
        events.forEach((e, idx) => {
          if (e.timestamp < now - rules.limits.maxSampleAgeMs) {
            push({ path: `events.${idx}.timestamp`, message: `event age is ${now - e.timestamp} ms, over the tenant limit maxSampleAgeMs=${rules.limits.maxSampleAgeMs}`, reason: 'sample_too_old' });
            bad.set(idx, 'sample_too_old');
          } else if (e.timestamp > now + rules.limits.creationGracePeriodMs) {
            push({ path: `events.${idx}.timestamp`, message: `event is ${e.timestamp - now} ms ahead of the edge's clock, over the tenant limit creationGracePeriodMs=${rules.limits.creationGracePeriodMs}`, reason: 'too_far_in_future' });
            bad.set(idx, 'too_far_in_future');
          }
        });
        if (bad.size) events = undefined;
      }
    }
    for (const r of bad.values()) bump(discardedEvents, r);
    invalidEvents = bad.size || (parsed.success ? 0 : nEvents);
  } else events = [];

  if (issues.length === 0 && omitted === 0 && nPoints + nEvents === 0) push({ path: 'points', message: 'a batch needs at least one point or event', reason: 'invalid_batch' });
  if (issues.length === 0 && omitted === 0 && points && events) return { ok: true, batch: { points, events }, points: nPoints, events: nEvents };
  bump(discardedPoints, 'invalid_batch', nPoints - invalidPoints);
  bump(discardedEvents, 'invalid_batch', nEvents - invalidEvents);
  return { ok: false, issues, omittedIssues: omitted, discardedPoints, discardedEvents, points: nPoints, events: nEvents };
}

/** The ingest batch as a zod schema, with the default tenant limits and no time window (the edge calls validateIngestBatch). */
export const IngestBatchSchema = z.unknown().transform((value, ctx): IngestBatch => {
  const r = validateIngestBatch(value, { limits: DEFAULT_POINT_LIMITS });
  if (r.ok) return r.batch;
  for (const i of r.issues) ctx.addIssue({ code: 'custom', path: i.path === '(root)' ? [] : i.path.split('.'), message: i.message, params: { reason: i.reason } });
  return z.NEVER;
});

/** One Kafka record on headroom.telemetry.v1: a validated batch plus where it came from. */
export const TelemetryBatchSchema = z.object({
  batchId: z.string().min(1).max(64),
  source: z.string().min(1).max(128),
  receivedAt: TimestampMsSchema,
  points: pointsSchema({ limits: POINT_LIMIT_CEILINGS, limitHint: CEILING_HINT, unknownFields: 'strip' }),
  events: EventsSchema,
});
export type TelemetryBatch = z.infer<typeof TelemetryBatchSchema>;

export const TelemetryBatchMessage = defineMessage({
  name: 'telemetry-batch',
  version: 1,
  topic: Topics.telemetry,
  schema: TelemetryBatchSchema,
  tenantScoped: true,
});
