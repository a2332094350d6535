import { z } from 'zod';
import { defineMessage } from './message';
import { IsoDateSchema } from './common.schema';
import { Topics } from './topics';

/** A record that can never be processed, kept with the reason and everything needed to replay it. */
export const DlqRecordSchema = z.object({
  failedAt: IsoDateSchema,
  service: z.string().min(1).max(64),
  consumerGroup: z.string().min(1).max(128),
  reason: z.string().min(1).max(2000),
  /** Machine-readable cause: schema, integrity, unknown_schema, tenant_destroyed, handler ... */
  code: z.string().regex(/^[a-z_]+$/),
  source: z.object({
    topic: z.string(),
    partition: z.number().int().nonnegative(),
    offset: z.string().regex(/^\d+$/),
    key: z.string().nullable(),
    headers: z.record(z.string(), z.string()),
  }),
  /**
   * The original value, base64, untouched (still encrypted if it was); null for a tombstone, or when
   * the original was too large to keep in a DLQ record (then the reason says so, and it stays at its
   * source offset until the source topic's retention).
   */
  value: z.string().nullable(),
  /** Size of the original value in bytes (absent for a tombstone). */
  valueBytes: z.number().int().nonnegative().optional(),
});
export type DlqRecord = z.infer<typeof DlqRecordSchema>;

export const DlqRecordMessage = defineMessage({
  name: 'dlq-record',
  version: 1,
  topic: Topics.dlq,
  schema: DlqRecordSchema,
  tenantScoped: false,
});
