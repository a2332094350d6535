import { z } from 'zod';
import { defineMessage } from './message';
import { IsoDateSchema, TenantIdSchema } from './common.schema';
import { Topics } from './topics';

export const AuditEventSchema = z.object({
  at: IsoDateSchema,
  service: z.enum(['collectors', 'analytics', 'alerting', 'exporters', 'control']),
  /** Who acted: an API key id, an operator, or the service itself. Never a secret. */
  actor: z.string().min(1).max(128),
  tenant: TenantIdSchema.optional(),
  action: z.string().regex(/^[a-z_]+\.[a-z_]+$/, 'must look like noun.verb, e.g. api_key.create'),
  target: z.string().max(256).optional(),
  outcome: z.enum(['success', 'denied', 'error']),
  details: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
});
export type AuditEvent = z.infer<typeof AuditEventSchema>;

export const AuditEventMessage = defineMessage({
  name: 'audit-event',
  version: 1,
  topic: Topics.audit,
  schema: AuditEventSchema,
  tenantScoped: false,
});
