import { z } from 'zod';
import { baseEnvSchema, databaseEnvSchema, portEnv } from '@headroom/config';

export const controlEnvSchema = baseEnvSchema
  .merge(databaseEnvSchema)
  .merge(portEnv(4050))
  .merge(
    z.object({
      /** Operators' bearer token for the admin API (tenants, keys, erasure). */
      CONTROL_ADMIN_TOKEN: z.string({ required_error: 'is required: the operators\' bearer token (at least 24 characters)' }).min(24, 'must be at least 24 characters'),
    }),
  );
export type ControlConfig = z.infer<typeof controlEnvSchema>;
