import { z } from 'zod';
import { defineMessage } from './message';
import { FiniteNumberSchema, LabelsSchema, TimestampMsSchema } from './common.schema';
import { Topics } from './topics';

/** A state transition of one alert (Alertmanager's shape: labels identify it, annotations describe it). */
export const AlertEventSchema = z.object({
  /** Stable hash of rule id + series labels. */
  fingerprint: z.string().min(1).max(64),
  ruleId: z.string().min(1).max(128),
  /** `pending`: the condition holds but not yet for the rule's `for` (nobody is told). */
  state: z.enum(['pending', 'firing', 'resolved']),
  labels: LabelsSchema,
  /** `summary`, `description`, `runbook_url`…: tenant-controlled text, escaped by every channel. */
  annotations: z.record(z.string().max(128), z.string().max(2000)).refine((a) => Object.keys(a).length <= 32, 'at most 32 annotations'),
  value: FiniteNumberSchema,
  /** The firing threshold, when the rule compares against one. */
  threshold: FiniteNumberSchema.optional(),
  startsAt: TimestampMsSchema,
  endsAt: TimestampMsSchema.optional(),
  /** Wall-clock time alerting decided the transition (ms): the start of the notification latency. */
  observedAt: TimestampMsSchema.optional(),
});
export type AlertEvent = z.infer<typeof AlertEventSchema>;

export const AlertEventMessage = defineMessage({
  name: 'alert-event',
  version: 1,
  topic: Topics.alerts,
  schema: AlertEventSchema,
  tenantScoped: true,
});
