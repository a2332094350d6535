import { z } from 'zod';

/**
 * Per-tenant limits, after Grafana Mimir's: one default set for every tenant, overridden field by
 * field per tenant from control (carried on the tenant record of headroom.control.v1). Every
 * service that enforces a limit reads it through `resolveTenantLimits`, so the defaults live here
 * only. Names follow Mimir's where one exists (in camelCase).
 */
export const TenantLimitsSchema = z
  .object({
    /** Points + events per second, shared by every collectors replica (Mimir `ingestion_rate`). */
    ratePerSecond: z.number().int().positive().max(10_000_000),
    /** Token-bucket size of that rate (Mimir `ingestion_burst_size`): the largest batch accepted at once. */
    burst: z.number().int().positive().max(100_000_000),
    /** Series that received a point within `activeSeriesIdleMs`, across replicas (Mimir `max_global_series_per_user`). */
    maxActiveSeries: z.number().int().positive().max(10_000_000),
    /** Labels per series, name excluded (Mimir `max_label_names_per_series`). */
    maxLabelNamesPerSeries: z.number().int().min(1).max(100),
    /** Characters in a label name (Mimir `max_label_name_length`). */
    maxLabelNameLength: z.number().int().min(1).max(4096),
    /** Characters in a label value (Mimir `max_label_value_length`). */
    maxLabelValueLength: z.number().int().min(1).max(16_384),
    /** Characters in a metric name. */
    maxMetricNameLength: z.number().int().min(1).max(4096),
    /** How far in the future a point may be stamped (Mimir `creation_grace_period`). */
    creationGracePeriodMs: z.number().int().min(0).max(24 * 3600_000),
    /**
     * How old a point may be when it reaches the edge (Mimir `reject_old_samples_max_age`). It is
     * also the out-of-order window: analytics merges any point this recent into its window, even
     * after the window was published, as a new revision of that window.
     */
    maxSampleAgeMs: z.number().int().min(60_000).max(7 * 24 * 3600_000),
    /** Series with an anomaly detector in memory; beyond it the tenant's least recently fed is dropped. */
    maxDetectorSeries: z.number().int().min(0).max(1_000_000),
    /** Days each resolution of the tenant's windows is kept in analytics' store. */
    retentionDays10s: z.number().int().min(1).max(3650),
    retentionDays1m: z.number().int().min(1).max(3650),
    retentionDays1h: z.number().int().min(1).max(3650),
  })
  .partial()
  .strict();
export type TenantLimitOverrides = z.infer<typeof TenantLimitsSchema>;
export type TenantLimits = Required<TenantLimitOverrides>;

/** The defaults (Mimir's where it has one; documented in docs/limits.md). */
export const DEFAULT_TENANT_LIMITS: TenantLimits = {
  ratePerSecond: 100_000,
  burst: 200_000,
  maxActiveSeries: 50_000,
  maxLabelNamesPerSeries: 30,
  maxLabelNameLength: 1024,
  maxLabelValueLength: 2048,
  maxMetricNameLength: 200,
  creationGracePeriodMs: 10 * 60_000,
  maxSampleAgeMs: 3600_000,
  maxDetectorSeries: 10_000,
  retentionDays10s: 7,
  retentionDays1m: 30,
  retentionDays1h: 400,
};

/** A tenant's effective limits: its overrides over the deployment's defaults over the built-in ones. */
export function resolveTenantLimits(overrides?: TenantLimitOverrides, defaults: Partial<TenantLimits> = {}): TenantLimits {
  return { ...DEFAULT_TENANT_LIMITS, ...stripUndefined(defaults), ...stripUndefined(overrides ?? {}) };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
