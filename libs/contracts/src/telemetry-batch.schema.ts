import { z } from 'zod';
import { defineMessage } from './message';
import { FiniteNumberSchema, LabelsSchema, MetricNameSchema, TimestampMsSchema } from './common.schema';
import { Topics } from './topics';

export const MAX_POINTS_PER_BATCH = 10_000;
export const MAX_EVENTS_PER_BATCH = 10_000;

export const MetricPointSchema = z.object({
  name: MetricNameSchema,
  labels: LabelsSchema.default({}),
  value: FiniteNumberSchema,
  timestamp: TimestampMsSchema,
  unit: z.string().max(32).optional(),
});
export type MetricPoint = z.infer<typeof MetricPointSchema>;

const eventBase = { timestamp: TimestampMsSchema };
const idString = z.string().min(1).max(256);

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
  modelVersion: z.string().min(1).max(64),
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

/** What a producer sends (HTTP body or SDK). The tenant is never in here: it comes from the credential. */
export const IngestBatchSchema = z
  .object({
    points: z.array(MetricPointSchema).max(MAX_POINTS_PER_BATCH).default([]),
    events: z.array(PlatformEventSchema).max(MAX_EVENTS_PER_BATCH).default([]),
  })
  .strict()
  .refine((b) => b.points.length + b.events.length > 0, { message: 'a batch needs at least one point or event', path: ['points'] });
export type IngestBatch = z.infer<typeof IngestBatchSchema>;

/** One Kafka record on headroom.telemetry.v1: a validated batch plus where it came from. */
export const TelemetryBatchSchema = z.object({
  batchId: z.string().min(1).max(64),
  source: z.string().min(1).max(128),
  receivedAt: TimestampMsSchema,
  points: z.array(MetricPointSchema).max(MAX_POINTS_PER_BATCH),
  events: z.array(PlatformEventSchema).max(MAX_EVENTS_PER_BATCH),
});
export type TelemetryBatch = z.infer<typeof TelemetryBatchSchema>;

export const TelemetryBatchMessage = defineMessage({
  name: 'telemetry-batch',
  version: 1,
  topic: Topics.telemetry,
  schema: TelemetryBatchSchema,
  tenantScoped: true,
});
