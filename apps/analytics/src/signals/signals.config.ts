import { z } from 'zod';
import { TenantDetectorsSchema, type DetectorSettingInput } from '@headroom/contracts';

/**
 * Today's behaviour (the seasonal detector on every series' p95) plus drift on the seeds' model
 * metrics (window means: the last 10 min against the first hour). Forecasts and forests need a
 * threshold or a choice of series, so a tenant's record names them.
 */
export const DEFAULT_DETECTORS: DetectorSettingInput[] = [
  { type: 'seasonal', statistic: 'p95' },
  { type: 'drift', series: [{ metric: 'model_inference_latency_ms' }, { metric: 'model_accuracy' }], statistic: 'mean' },
];

export const signalsEnvSchema = z.object({
  /** The deployment's detectors (JSON, the tenant record's `detectors` shape) for tenants that name none. */
  DETECTORS: z
    .string()
    .default(JSON.stringify(DEFAULT_DETECTORS))
    .transform((text, ctx) => {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: `not JSON: ${String(err)}` });
        return z.NEVER;
      }
      const r = TenantDetectorsSchema.safeParse(value);
      if (!r.success) {
        for (const i of r.error.issues) ctx.addIssue({ code: 'custom', message: `${i.path.join('.') || '(root)'}: ${i.message}` });
        return z.NEVER;
      }
      return r.data;
    }),
  /** A stream's detector state is saved after at most this many closed windows (and on revoke, shutdown). */
  DETECTOR_CHECKPOINT_WINDOWS: z.coerce.number().int().min(1).default(30),
  /** Stored windows replayed through restored detectors at most (the ones closed after the last save). */
  DETECTOR_MAX_REPLAY_WINDOWS: z.coerce.number().int().min(0).default(1_000_000),
});
