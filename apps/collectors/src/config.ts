import { baseEnvSchema, portEnv } from '@headroom/config';
import type { z } from 'zod';

export const collectorsEnvSchema = baseEnvSchema.merge(portEnv(4010));
export type CollectorsConfig = z.infer<typeof collectorsEnvSchema>;
