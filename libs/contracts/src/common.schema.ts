import { z } from 'zod';

/** Tenant ids are DNS-label-like; `#` is reserved for the shard suffix of record keys (`tenant#k`). */
export const TenantIdSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{1,62}$/, 'must be 2-63 chars of a-z, 0-9 and -, starting with a letter or digit');
export type TenantId = z.infer<typeof TenantIdSchema>;

/** Prometheus metric-name rules, so every series exports unchanged. */
export const MetricNameSchema = z
  .string()
  .max(200)
  .regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/, 'must match [a-zA-Z_:][a-zA-Z0-9_:]* (Prometheus metric name)');

export const LabelsSchema = z
  .record(
    z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'label names must match [a-zA-Z_][a-zA-Z0-9_]*').refine((k) => !k.startsWith('__'), 'label names starting with __ are reserved'),
    z.string().max(1024, 'label values are at most 1024 characters'),
  )
  .refine((labels) => Object.keys(labels).length <= 32, 'at most 32 labels per series');
export type Labels = z.infer<typeof LabelsSchema>;

/** Milliseconds since the Unix epoch; bounded so a seconds-vs-ms mistake is caught at the edge. */
export const TimestampMsSchema = z
  .number()
  .int('must be an integer number of milliseconds')
  .min(946_684_800_000, 'must be milliseconds since the epoch, after 2000-01-01')
  .max(4_102_444_800_000, 'must be milliseconds since the epoch, before 2100-01-01');

export const FiniteNumberSchema = z.number().finite('must be a finite number');

export const IsoDateSchema = z.string().datetime({ offset: true });

export const SeriesSchema = z.object({ name: MetricNameSchema, labels: LabelsSchema });
export type Series = z.infer<typeof SeriesSchema>;
