import { z } from 'zod';
import { defineMessage } from './message';
import { FiniteNumberSchema, SeriesSchema, TimestampMsSchema } from './common.schema';
import { Topics } from './topics';

export const SignalSchema = z.object({
  kind: z.enum(['anomaly', 'forecast', 'drift']),
  detector: z.string().min(1).max(64),
  series: SeriesSchema,
  timestamp: TimestampMsSchema,
  value: FiniteNumberSchema,
  /** 0 = normal, 1 = certainly anomalous. */
  score: z.number().min(0).max(1),
  explanation: z.string().min(1).max(500),
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
