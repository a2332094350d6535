import { z } from 'zod';
import { defineMessage } from './message';
import { IsoDateSchema, TenantIdSchema } from './common.schema';
import { Topics } from './topics';

/**
 * GDPR erasure as a saga: control puts an `erasure_request` on the control topic (control-record.schema.ts),
 * each service deletes what it holds and answers on headroom.erasure.v1 with one of these; control
 * reports progress from them. An ack carries counts and store names, never a subject's identifier
 * or tenant data, so the topic is plain (not sealed) and not tenant-scoped.
 */

/** `u_` + base64url HMAC-SHA256 (TenantKeyring.pseudonymise): the only form of a user id that reaches Kafka. */
export const SubjectPseudonymSchema = z.string().regex(/^u_[A-Za-z0-9_-]{43}$/, 'must be a pseudonym (u_ + 43 base64url characters)');

export const ErasureIdSchema = z.string().uuid();

/** The services that acknowledge an erasure: each one that may hold tenant data. */
export const ErasureServiceSchema = z.enum(['collectors', 'analytics', 'alerting', 'exporters', 'control']);
export type ErasureService = z.infer<typeof ErasureServiceSchema>;

/** A store name such as `analytics.subject_events` or `redis:ingest_series`. */
const StoreNameSchema = z.string().regex(/^[a-z0-9_.:-]{1,80}$/, 'must be a store name like analytics.subject_events');

export const ErasureLeftSchema = z.object({
  store: StoreNameSchema,
  /** Why it could not be deleted, and when or how it goes (a retention date, an operator step). */
  reason: z.string().min(1).max(500),
});
export type ErasureLeft = z.infer<typeof ErasureLeftSchema>;

export const ErasureAckSchema = z
  .object({
    requestId: ErasureIdSchema,
    tenant: TenantIdSchema,
    service: ErasureServiceSchema,
    /** `done`: nothing of the scope is left in this service; `partial`: see `left`. */
    status: z.enum(['done', 'partial']),
    /** Rows, keys or entries deleted, per store (0 when a replay found nothing left). */
    deleted: z.record(StoreNameSchema, z.number().int().nonnegative()),
    left: z.array(ErasureLeftSchema).max(50),
    at: IsoDateSchema,
  })
  .refine((a) => (a.status === 'done') === (a.left.length === 0), { message: 'status is partial exactly when something is left', path: ['status'] });
export type ErasureAck = z.infer<typeof ErasureAckSchema>;

export const ErasureAckMessage = defineMessage({
  name: 'erasure-ack',
  version: 1,
  topic: Topics.erasure,
  schema: ErasureAckSchema,
  tenantScoped: false,
});
