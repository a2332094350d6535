import { baseEnvSchema, databaseEnvSchema, portEnv } from '@headroom/config';
import { z } from 'zod';
import { configureSinks, type ConfiguredSink } from './sinks/registry';

const exportersEnvObject = baseEnvSchema
  .merge(portEnv(4040))
  .merge(databaseEnvSchema)
  .merge(
    z.object({
      /** Consumer group on the aggregates topic. One group = the tenants are split between replicas (see docs/exporters.md). */
      EXPORTERS_GROUP_ID: z.string().min(1).default('exporters'),
      /** A series whose latest window ended longer ago than this is no longer exposed (Prometheus-style staleness). */
      STALENESS_SECONDS: z.coerce.number().int().positive().default(300),
      /** Push sinks (docs/exporters.md, "Sinks"): first retry delay after a failed write, doubling per failure… */
      EXPORT_SINK_BASE_BACKOFF_MS: z.coerce.number().int().positive().default(200),
      /** …up to this (Retry-After is honoured above it). */
      EXPORT_SINK_MAX_BACKOFF_MS: z.coerce.number().int().positive().default(30_000),
      /** Consecutive failed writes that open a sink's circuit (headroom_exporter_sink_up 0, logged once). */
      EXPORT_SINK_BREAKER_FAILURES: z.coerce.number().int().positive().default(5),
      /**
       * Every `EXPORT_*` variable, handed to the sink registry: each sink reads its own
       * (`EXPORT_REMOTE_WRITE_*`, `EXPORT_INFLUXDB_*`, …); the sinks whose URL is set are enabled,
       * validated here with the rest of the environment (every problem listed at boot).
       */
      sinks: z.record(z.string()).transform((env, ctx): ConfiguredSink[] => {
        const { sinks, problems } = configureSinks(env);
        for (const p of problems) ctx.addIssue({ code: 'custom', path: [p.key], message: p.message });
        return sinks;
      }),
    }),
  );

/** The sinks see only the `EXPORT_*` variables, never the KEK or database credentials. */
function withSinkEnv(env: unknown): unknown {
  if (!env || typeof env !== 'object') return env;
  const entries = Object.entries(env as Record<string, unknown>).filter(([k, v]) => k.startsWith('EXPORT_') && typeof v === 'string');
  return { ...env, sinks: Object.fromEntries(entries) };
}

export const exportersEnvSchema = z.preprocess(withSinkEnv, exportersEnvObject);
export type ExportersConfig = z.infer<typeof exportersEnvSchema>;
