import { z } from 'zod';
import { defineMessage } from './message';
import { IsoDateSchema, TenantIdSchema } from './common.schema';
import { Topics } from './topics';

/** PostgreSQL text and jsonb cannot hold NUL: such an event could never be stored, so it is refused at the edge. */
const auditText = (max: number, min = 0) => z.string().min(min).max(max).refine((s) => !s.includes('\u0000'), 'must not contain NUL characters');

export const AuditEventSchema = z.object({
  at: IsoDateSchema,
  service: z.enum(['collectors', 'analytics', 'alerting', 'exporters', 'control']),
  /** Who acted: `key:<keyId>`, `person:<sub>`, `platform`, `anonymous`, `operator`, or the service itself. Never a secret. */
  actor: auditText(128, 1),
  tenant: TenantIdSchema.optional(),
  action: z.string().regex(/^[a-z_]+\.[a-z_]+$/, 'must look like noun.verb, e.g. api_key.create'),
  target: auditText(256).optional(),
  outcome: z.enum(['success', 'denied', 'error']),
  details: z.record(auditText(1024), z.union([auditText(1024), z.number().finite(), z.boolean()])).default({}),
  /**
   * Unique per event (a UUID from the emitting service), so that two identical calls within one
   * millisecond are two events, while a replay of the same record is still stored once. Optional:
   * events written before it existed have none.
   */
  id: z.string().uuid().optional(),
});
export type AuditEvent = z.infer<typeof AuditEventSchema>;

export const AuditEventMessage = defineMessage({
  name: 'audit-event',
  version: 1,
  topic: Topics.audit,
  schema: AuditEventSchema,
  tenantScoped: false,
});
