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
