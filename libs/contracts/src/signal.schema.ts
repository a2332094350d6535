import { z } from 'zod';
import { defineMessage } from './message';
import { FiniteNumberSchema, LabelsSchema, MetricNameSchema, SeriesSchema, TimestampMsSchema } from './common.schema';
import { Topics } from './topics';

/** The statistics of a closed window a detector can follow. */
export const WindowStatisticSchema = z.enum(['count', 'sum', 'min', 'max', 'mean', 'p50', 'p95', 'p99']);
export type WindowStatistic = z.infer<typeof WindowStatisticSchema>;

/** "p95 will cross 250 within 30 min": what a forecast signal predicts, so a rule can act on it without the model. */
export const ForecastDetailSchema = z.object({
  threshold: FiniteNumberSchema,
  /** `above`: the series is predicted to rise to the threshold; `below`: to fall to it. */
  direction: z.enum(['above', 'below']),
  /** How far ahead the model looked. */
  horizonMs: z.number().int().positive(),
  /** When the point forecast reaches the threshold (epoch ms). */
  crossesAt: TimestampMsSchema,
  /** Probability that the value is beyond the threshold at the end of the horizon. */
  probability: z.number().min(0).max(1),
  /** Point forecast and central interval at the end of the horizon. */
  mean: FiniteNumberSchema,
  lower: FiniteNumberSchema,
  upper: FiniteNumberSchema,
  /** Coverage of [lower, upper], e.g. 0.95. */
  confidence: z.number().gt(0).lt(1),
});

/** Distribution drift of a series between a reference window and the current one. */
export const DriftDetailSchema = z.object({
  psi: z.number().min(0).finite(),
  /** Two-sample Kolmogorov–Smirnov statistic D and its p-value. */
  ks: z.number().min(0).max(1),
  pValue: z.number().min(0).max(1),
  psiThreshold: z.number().positive(),
  alpha: z.number().gt(0).lt(1),
  /** Windows in each sample. */
  referenceWindows: z.number().int().positive(),
  currentWindows: z.number().int().positive(),
});

/** A tenant-level multivariate outlier: every metric of the vector, the most unusual first. */
export const OutlierDetailSchema = z.object({
  threshold: z.number().min(0).max(1),
  metrics: z
    .array(
      z.object({
        series: SeriesSchema,
        value: FiniteNumberSchema,
        /** Share of the isolation attributed to this metric (0..1, the vector's shares sum to 1). */
        contribution: z.number().min(0).max(1),
      }),
    )
    .min(1)
    .max(32),
});

/**
 * One detector finding on headroom.signals.v1. `kind` says which detail block is present:
 * `anomaly` (none), `forecast`, `drift`, `outlier`. Consumers that know only `anomaly` keep working:
 * the new fields are optional and they filter on `kind`.
 */
export const SignalSchema = z
  .object({
    kind: z.enum(['anomaly', 'forecast', 'drift', 'outlier']),
    detector: z.string().min(1).max(64),
    /** For an outlier: the metric that contributed most. */
    series: SeriesSchema,
    timestamp: TimestampMsSchema,
    /** The window statistic's value at `timestamp` (an outlier: its top metric's). */
    value: FiniteNumberSchema,
    /** 0 = normal, 1 = certainly anomalous (a forecast: its probability; a drift: 1 − p-value). */
    score: z.number().min(0).max(1),
    explanation: z.string().min(1).max(500),
    /** Which statistic of the window the detector followed (absent on older signals: p95). */
    statistic: WindowStatisticSchema.optional(),
    forecast: ForecastDetailSchema.optional(),
    drift: DriftDetailSchema.optional(),
    outlier: OutlierDetailSchema.optional(),
  })
  .superRefine((s, ctx) => {
    for (const k of ['forecast', 'drift', 'outlier'] as const) {
      if (s.kind === k && !s[k]) ctx.addIssue({ code: 'custom', path: [k], message: `a ${k} signal carries its ${k} block` });
      if (s.kind !== k && s[k]) ctx.addIssue({ code: 'custom', path: [k], message: `only a ${k} signal carries a ${k} block` });
    }
  });
export type Signal = z.infer<typeof SignalSchema>;

export const SignalBatchSchema = z.object({ signals: z.array(SignalSchema).min(1).max(10_000) });
export type SignalBatch = z.infer<typeof SignalBatchSchema>;

export const SignalBatchMessage = defineMessage({
  name: 'signal-batch',
  version: 1,
  topic: Topics.signals,
  schema: SignalBatchSchema,
  tenantScoped: true,
});

/** Picks the series a detector follows: a metric name, optionally narrowed by labels (all must match). */
export const SeriesSelectorSchema = z.object({ metric: MetricNameSchema, labels: LabelsSchema.optional() });
export type SeriesSelector = z.infer<typeof SeriesSelectorSchema>;

/**
 * Overrides of a detector's own config (libs/detectors: e.g. `alpha`, `referenceSize`, `trees`).
 * Checked by the detector's `validate()` in analytics; an invalid entry is skipped and logged.
 */
const DetectorParamsSchema = z.record(z.string().max(64), z.union([FiniteNumberSchema, z.string().max(200), z.array(FiniteNumberSchema).max(64)])).optional();

const cooldown = z.number().int().min(0).max(100_000);

/**
 * Which detectors analytics runs for a tenant, on which series and which window statistic. Carried
 * by the tenant record (`detectors`); absent, the deployment's defaults apply (analytics' DETECTORS).
 */
export const DetectorSettingSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('seasonal'),
    /** None: every series of the tenant (within maxDetectorSeries). */
    series: z.array(SeriesSelectorSchema).max(100).optional(),
    statistic: WindowStatisticSchema.default('p95'),
    /** Scores at or above this become anomaly signals (default: analytics' ANOMALY_THRESHOLD). */
    minScore: z.number().min(0).max(1).optional(),
    params: DetectorParamsSchema,
  }),
  z.object({
    type: z.literal('holt-winters'),
    series: z.array(SeriesSelectorSchema).min(1).max(100),
    statistic: WindowStatisticSchema.default('p95'),
    threshold: FiniteNumberSchema,
    direction: z.enum(['above', 'below']).default('above'),
    horizonMs: z.number().int().positive().max(7 * 24 * 3600_000).default(30 * 60_000),
    /** A crossing is signalled when its probability by the horizon reaches this. */
    minProbability: z.number().gt(0).lt(1).default(0.5),
    /** Windows fed before the first forecast (the model is still learning). */
    warmupWindows: z.number().int().min(2).max(100_000).default(30),
    /** At most one forecast signal per series per this many windows. */
    cooldownWindows: cooldown.default(30),
    params: DetectorParamsSchema,
  }),
  z.object({
    type: z.literal('drift'),
    series: z.array(SeriesSelectorSchema).min(1).max(100),
    statistic: WindowStatisticSchema.default('mean'),
    cooldownWindows: cooldown.default(60),
    /** referenceSize / currentSize are in windows; psiThreshold, alpha, bins as in libs/detectors. */
    params: DetectorParamsSchema,
  }),
  z.object({
    type: z.literal('isolation-forest'),
    /** One dimension each; a vector is the same instant's windows of every selected series. */
    series: z.array(SeriesSelectorSchema).min(2).max(32),
    statistic: WindowStatisticSchema.default('p95'),
    minScore: z.number().min(0).max(1).default(0.7),
    /** Vectors scored before the first outlier signal (the forest is still learning). */
    warmupWindows: z.number().int().min(2).max(100_000).default(64),
    cooldownWindows: cooldown.default(30),
    params: DetectorParamsSchema,
  }),
]);
export type DetectorSetting = z.infer<typeof DetectorSettingSchema>;
export type DetectorSettingInput = z.input<typeof DetectorSettingSchema>;

export const TenantDetectorsSchema = z.array(DetectorSettingSchema).max(50);
