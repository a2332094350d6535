import { z } from 'zod';
import { baseEnvSchema, portEnv, redisEnvSchema } from '@headroom/config';
import { parseScrapersConfig } from './scrapers/config';

export const collectorsEnvSchema = baseEnvSchema
  .merge(portEnv(4010))
  .merge(redisEnvSchema)
  .merge(
    z.object({
      /**
       * Deployment defaults of the per-tenant ingest rate (points + events per second, shared by every
       * replica through Redis) and its burst; a tenant's own limits (control) win, then these, then
       * DEFAULT_TENANT_LIMITS.
       */
      INGEST_RATE_PER_SECOND: z.coerce.number().int().positive().optional(),
      INGEST_BURST: z.coerce.number().int().positive().optional(),
      /** Largest request body, in bytes: below the telemetry topic's 8 MiB record limit (413 above it). */
      INGEST_MAX_BODY_BYTES: z.coerce
        .number()
        .int()
        .min(1024)
        .max(8 * 1024 * 1024 - 256 * 1024, 'must stay below the telemetry topic record limit (8 MiB) minus room for framing')
        .default(4 * 1024 * 1024),
      /** A series is active while it got a point within this time (Mimir's active series idle timeout). */
      ACTIVE_SERIES_IDLE_MS: z.coerce.number().int().min(60_000).default(20 * 60_000),
      /**
       * How long a request waits for Kafka to acknowledge its batch before it is answered 503 with
       * Retry-After (a paused or unreachable broker must not hold clients for its full timeout).
       */
      INGEST_PUBLISH_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(5_000),
      /** How long an Idempotency-Key's first answer is replayed. */
      IDEMPOTENCY_TTL_SECONDS: z.coerce.number().int().min(60).default(24 * 3600),
      /**
       * Built-in scrapers (docs/scrapers.md), JSON: `{ "tenant": "platform-ops", "intervalMs": 15000,
       * "scrapers": [{ "type": "host" }, …] }`. Unset or empty: none. Every problem is reported with
       * its path (`COLLECTORS_SCRAPERS.scrapers.1.url`).
       */
      COLLECTORS_SCRAPERS: z
        .string()
        .optional()
        .transform((raw, ctx) => {
          if (raw === undefined || raw.trim() === '') return undefined;
          const parsed = parseScrapersConfig(raw);
          if (parsed.ok) return parsed.config;
          for (const issue of parsed.issues) ctx.addIssue({ code: z.ZodIssueCode.custom, path: issue.path ? issue.path.split('.') : [], message: issue.message });
          return z.NEVER;
        }),
    }),
  );
export type CollectorsConfig = z.infer<typeof collectorsEnvSchema>;
