import { z } from 'zod';
import { defineMessage } from './message';
import { FiniteNumberSchema, SeriesSchema, TimestampMsSchema } from './common.schema';
import { Topics } from './topics';

/** One closed tumbling window of one series. Idempotency key: tenant + seriesId + windowStart. */
export const AggregateWindowSchema = z
  .object({
    series: SeriesSchema,
    seriesId: z.string().min(1).max(64),
    windowStart: TimestampMsSchema,
    windowMs: z.number().int().positive(),
    count: z.number().int().positive(),
    sum: FiniteNumberSchema,
    min: FiniteNumberSchema,
    max: FiniteNumberSchema,
    p50: FiniteNumberSchema,
    p95: FiniteNumberSchema,
    p99: FiniteNumberSchema,
    unit: z.string().max(32).optional(),
  })
  .refine((w) => w.min <= w.max, { message: 'min must be <= max', path: ['min'] });
export type AggregateWindow = z.infer<typeof AggregateWindowSchema>;

export const AggregateBatchSchema = z.object({
  windows: z.array(AggregateWindowSchema).min(1).max(10_000),
});
export type AggregateBatch = z.infer<typeof AggregateBatchSchema>;

export const AggregateBatchMessage = defineMessage({
  name: 'aggregate-batch',
  version: 1,
  topic: Topics.aggregates,
  schema: AggregateBatchSchema,
  tenantScoped: true,
});
