import { z } from 'zod';
import { baseEnvSchema, databaseEnvSchema, portEnv } from '@headroom/config';
import { signalsEnvSchema } from './signals/signals.config';

export const analyticsEnvSchema = baseEnvSchema
  .merge(databaseEnvSchema)
  .merge(portEnv(4020))
  .merge(signalsEnvSchema)
  .merge(
    z.object({
      ANALYTICS_GROUP_ID: z.string().min(1).default('analytics'),
      WINDOW_MS: z.coerce.number().int().min(1000).default(10_000),
      ALLOWED_LATENESS_MS: z.coerce.number().int().min(0).default(2_000),
      IDLE_CLOSE_MS: z.coerce.number().int().min(100).default(3_000),
      FLUSH_INTERVAL_MS: z.coerce.number().int().min(50).default(500),
      /** Window p95 scores at or above this become anomaly signals on headroom.signals.v1. */
      ANOMALY_THRESHOLD: z.coerce.number().min(0).max(1).default(0.6),
      /** Default per-tenant detector budget (≈1.2 KB each); a tenant's `maxDetectorSeries` from control wins. */
      ANOMALY_MAX_SERIES_PER_TENANT: z.coerce.number().int().min(0).default(10_000),
      /** Closed windows + late points waiting to be persisted beyond which consumption pauses (PostgreSQL or Kafka slow). */
      MAX_UNSAVED_WINDOWS: z.coerce.number().int().min(1000).default(500_000),
      /** A 1 min / 1 h rollup is computed this long after its window ends (and again whenever a finer window is revised). */
      ROLLUP_DELAY_MS: z.coerce.number().int().min(0).default(15_000),
      ROLLUP_INTERVAL_MS: z.coerce.number().int().min(100).default(5_000),
      RETENTION_INTERVAL_MS: z.coerce.number().int().min(1000).default(600_000),
      /** Query API: series one query may select (beyond: 422 naming the parameter). */
      QUERY_MAX_SERIES: z.coerce.number().int().min(1).default(1_000),
      /** Query API: points (steps) per series, Prometheus's 11,000 by default. */
      QUERY_MAX_POINTS_PER_SERIES: z.coerce.number().int().min(1).default(11_000),
      /** Query API: stored windows one query may read, all series together (bounds PostgreSQL work and memory). */
      QUERY_MAX_WINDOWS: z.coerce.number().int().min(1).default(2_000_000),
      /** Query API: how far back an instant selector looks for a window (Prometheus's lookback delta). */
      QUERY_LOOKBACK_MS: z.coerce.number().int().min(1000).default(300_000),
    }),
  );
export type AnalyticsConfig = z.infer<typeof analyticsEnvSchema>;
