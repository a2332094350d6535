import { z } from 'zod';
import { AnomalyAlertingSchema, ApiKeyScopeSchema, TenantIdSchema, TenantLimitsSchema, ThresholdRuleSchema } from '@headroom/contracts';

export const AlertConfigBodySchema = z
  .object({
    slackChannel: z.string().regex(/^[#@]?[a-zA-Z0-9._-]{1,80}$/, 'must be a Slack channel name or id').optional(),
    rules: z.array(ThresholdRuleSchema).max(500).default([]),
    /** Absent: anomaly signals page nobody (see docs/alerting.md). */
    anomalies: AnomalyAlertingSchema.strict().optional(),
  })
  .strict();

export const CreateTenantBodySchema = z
  .object({
    id: TenantIdSchema,
    displayName: z.string().min(1).max(200),
    locale: z.string().regex(/^[a-z]{2}(-[A-Z]{2})?$/, 'must be a BCP 47 tag like fr or fr-FR').default('en'),
    shards: z.number().int().min(1).max(64).default(1),
    limits: TenantLimitsSchema.optional(),
    alerting: AlertConfigBodySchema.optional(),
  })
  .strict();
export type CreateTenantBody = z.infer<typeof CreateTenantBodySchema>;

export const CreateApiKeyBodySchema = z.object({ scopes: z.array(ApiKeyScopeSchema).min(1).default(['ingest']) }).strict();
export type AlertConfigBody = z.infer<typeof AlertConfigBodySchema>;

/**
 * PATCH /v1/tenants/:id/limits: any limit of TenantLimitsSchema (its bounds apply), merged over the
 * tenant's current overrides; `null` removes an override (back to the deployment default).
 */
export const LimitsPatchBodySchema = z
  .object(
    Object.fromEntries(Object.entries(TenantLimitsSchema.shape).map(([k, v]) => [k, v.unwrap().nullable().optional()])) as {
      [K in keyof typeof TenantLimitsSchema.shape]: z.ZodOptional<z.ZodNullable<ReturnType<(typeof TenantLimitsSchema.shape)[K]['unwrap']>>>;
    },
  )
  .strict()
  .refine((b) => Object.keys(b).length > 0, { message: 'name at least one limit (see docs/limits.md)', path: [] });
export type LimitsPatchBody = z.infer<typeof LimitsPatchBodySchema>;
