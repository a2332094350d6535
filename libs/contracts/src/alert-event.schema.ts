import { z } from 'zod';
import { defineMessage } from './message';
import { FiniteNumberSchema, LabelsSchema, TimestampMsSchema } from './common.schema';
import { Topics } from './topics';

/** A state transition of one alert (Alertmanager's shape: labels identify it, annotations describe it). */
export const AlertEventSchema = z.object({
  /** Stable hash of rule id + series labels. */
  fingerprint: z.string().min(1).max(64),
  ruleId: z.string().min(1).max(128),
  state: z.enum(['firing', 'resolved']),
  labels: LabelsSchema,
  annotations: z.object({ summary: z.string().min(1).max(1000) }),
  value: FiniteNumberSchema,
  threshold: FiniteNumberSchema,
  startsAt: TimestampMsSchema,
  endsAt: TimestampMsSchema.optional(),
});
export type AlertEvent = z.infer<typeof AlertEventSchema>;

export const AlertEventMessage = defineMessage({
  name: 'alert-event',
  version: 1,
  topic: Topics.alerts,
  schema: AlertEventSchema,
  tenantScoped: true,
});
