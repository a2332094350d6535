import { z } from 'zod';
import { CEILING_HINT, isMetricName, POINT_LIMIT_CEILINGS, unsafeTextMessage, validateLabels, type Labels } from './point-validation';

/** Tenant ids are DNS-label-like; `#` is reserved for the shard suffix of record keys (`tenant#k`). */
export const TenantIdSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{1,62}$/, 'must be 2-63 chars of a-z, 0-9 and -, starting with a letter or digit');
export type TenantId = z.infer<typeof TenantIdSchema>;

/** Prometheus metric-name rules, so every series exports unchanged (point-validation.ts owns them). */
export const MetricNameSchema = z
  .string()
  .min(1, 'a metric name is required')
  .max(POINT_LIMIT_CEILINGS.maxMetricNameLength)
  .refine(isMetricName, 'must match [a-zA-Z_:][a-zA-Z0-9_:]* (Prometheus metric name)');

/**
 * A series' labels, with the point rules (names, reserved names, safe values) at the contract
 * ceilings: what any tenant's records may carry downstream. The edge checks each tenant's own limits.
 */
export const LabelsSchema = z.unknown().transform((value, ctx): Labels => {
  const issues = validateLabels(value, { limits: POINT_LIMIT_CEILINGS, limitHint: CEILING_HINT });
  for (const i of issues) ctx.addIssue({ code: 'custom', path: i.path, message: i.message, params: { reason: i.reason } });
  return issues.length ? z.NEVER : (value as Labels);
});
export type { Labels };

/** Free text that reaches Kafka, PostgreSQL and exports: valid UTF-8, no control characters. */
export const safeText = (s: z.ZodString) =>
  s.superRefine((v, ctx) => {
    const m = unsafeTextMessage(v);
    if (m) ctx.addIssue({ code: 'custom', message: m });
  });

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
