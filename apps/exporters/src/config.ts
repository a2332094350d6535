import { baseEnvSchema, databaseEnvSchema, portEnv } from '@headroom/config';
import { z } from 'zod';

export const exportersEnvSchema = baseEnvSchema
  .merge(portEnv(4040))
  .merge(databaseEnvSchema)
  .merge(
    z.object({
      /** Consumer group on the aggregates topic. One group = the tenants are split between replicas (see docs/exporters.md). */
      EXPORTERS_GROUP_ID: z.string().min(1).default('exporters'),
      /** A series whose latest window ended longer ago than this is no longer exposed (Prometheus-style staleness). */
      STALENESS_SECONDS: z.coerce.number().int().positive().default(300),
      /**
       * How long a record sealed under a tenant key we do not know yet is retried before the DLQ (the
       * key may still be on its way on the control topic). Meanwhile its partition waits behind it.
       */
      UNKNOWN_KEY_GRACE_MS: z.coerce.number().int().nonnegative().default(30_000),
    }),
  );
export type ExportersConfig = z.infer<typeof exportersEnvSchema>;
