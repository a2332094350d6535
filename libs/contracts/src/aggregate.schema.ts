import { z } from 'zod';
import { defineMessage } from './message';
import { FiniteNumberSchema, SeriesSchema, TimestampMsSchema } from './common.schema';
import { Topics } from './topics';

/** Relative accuracy of every window's quantile sketch (DDSketch): quantiles within 1% of the true value. */
export const SKETCH_RELATIVE_ACCURACY = 0.01;

/**
 * One closed tumbling window of one series. Idempotency key: tenant + seriesId + windowStart +
 * windowMs; the highest `revision` wins. A window is published when it closes (revision 0) and again,
 * whole, each time points that arrived late (within the tenant's `maxSampleAgeMs`) were merged into it.
 * `sketch` is the window's DDSketch (protobuf, base64) at SKETCH_RELATIVE_ACCURACY: windows merge
 * exactly (count, sum, min, max) and their quantiles stay within the sketch's relative error.
 */
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
    sketch: z.string().max(262_144).regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64').optional(),
    revision: z.number().int().min(0).optional(),
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
