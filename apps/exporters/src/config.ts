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
    }),
  );
export type ExportersConfig = z.infer<typeof exportersEnvSchema>;
