import { z } from 'zod';
import { baseEnvSchema, portEnv } from '@headroom/config';

export const collectorsEnvSchema = baseEnvSchema.merge(portEnv(4010)).merge(
  z.object({
    /** Default per-tenant ingest limit (points + events per second, per replica); a tenant's own limits win. */
    INGEST_RATE_PER_SECOND: z.coerce.number().int().positive().default(100_000),
    INGEST_BURST: z.coerce.number().int().positive().default(200_000),
  }),
);
export type CollectorsConfig = z.infer<typeof collectorsEnvSchema>;
