import { z } from 'zod';
import { baseEnvSchema, databaseEnvSchema, portEnv } from '@headroom/config';

export const analyticsEnvSchema = baseEnvSchema
  .merge(databaseEnvSchema)
  .merge(portEnv(4020))
  .merge(
    z.object({
      ANALYTICS_GROUP_ID: z.string().min(1).default('analytics'),
      WINDOW_MS: z.coerce.number().int().min(1000).default(10_000),
      ALLOWED_LATENESS_MS: z.coerce.number().int().min(0).default(2_000),
      IDLE_CLOSE_MS: z.coerce.number().int().min(100).default(3_000),
      FLUSH_INTERVAL_MS: z.coerce.number().int().min(50).default(500),
      /** Window p95 scores at or above this become anomaly signals on headroom.signals.v1. */
      ANOMALY_THRESHOLD: z.coerce.number().min(0).max(1).default(0.6),
      /** Series with a detector in memory (≈1.2 KB each); least recently fed dropped beyond. */
      ANOMALY_MAX_SERIES: z.coerce.number().int().positive().default(100_000),
    }),
  );
export type AnalyticsConfig = z.infer<typeof analyticsEnvSchema>;
