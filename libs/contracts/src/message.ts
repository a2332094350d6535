import type { z } from 'zod';
import type { TopicSpec } from './topics';

/**
 * A message contract binds a schema to its topic and version. The `hr-schema` header carries `id`,
 * and the Kafka layer validates against `schema` before producing and before handling.
 */
export interface MessageContract<S extends z.ZodTypeAny = z.ZodTypeAny> {
  readonly name: string;
  readonly version: number;
  /** `name@version`, the value of the `hr-schema` header. */
  readonly id: string;
  readonly topic: TopicSpec;
  readonly schema: S;
  /** Tenant-scoped payloads are encrypted with the tenant's data key; platform records (control, audit, dlq) are not. */
  readonly tenantScoped: boolean;
}

export function defineMessage<S extends z.ZodTypeAny>(def: {
  name: string;
  version: number;
  topic: TopicSpec;
  schema: S;
  tenantScoped: boolean;
}): MessageContract<S> {
  return { ...def, id: `${def.name}@${def.version}` };
}

export type MessageOf<C> = C extends MessageContract<infer S> ? z.infer<S> : never;

export interface FieldIssue {
  /** Dotted path into the payload, e.g. `points.3.value`. */
  path: string;
  message: string;
}

/** Flattens zod issues into `{ path, message }` pairs: what a 400 response or a DLQ reason carries. */
export function toFieldIssues(error: z.ZodError): FieldIssue[] {
  return error.issues.map((issue) => ({
    path: issue.path.length ? issue.path.join('.') : '(root)',
    message: issue.message,
  }));
}
