import { extendZodWithOpenApi, type ZodOpenAPIMetadata } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';

// Adds `.openapi()` to zod's prototype (idempotent). Done here, in the one module that builds
// documents, and used only through `documented()`: code that validates never depends on it, so a
// spec or tool that never imports this module behaves the same.
extendZodWithOpenApi(z);

/** The same schema (a copy carrying metadata: validation unchanged) described for the document, e.g. a hand-written validator's shape. */
export function documented<S extends z.ZodTypeAny>(schema: S, metadata: Partial<ZodOpenAPIMetadata<z.input<S>>>): S {
  return schema.openapi(metadata);
}

/** The same schema, listed once under `components/schemas/<name>` and referenced from every operation using it. */
export function named<S extends z.ZodTypeAny>(name: string, schema: S): S {
  return schema.openapi(name);
}

const recursive = new Map<string, z.ZodLazy<z.ZodTypeAny>>();

/**
 * Lets a recursive schema (`z.lazy`, which zod-to-openapi 7 cannot walk) into documents: the schema
 * object itself is marked with a component name (metadata zod ignores when validating), so every
 * use of it, nested ones included, becomes a `$ref`; the document builder then fills the component
 * from the lazy schema's body.
 */
export function documentRecursive(name: string, schema: z.ZodTypeAny): void {
  if (!(schema instanceof z.ZodLazy)) throw new Error(`documentRecursive(${name}): not a z.lazy schema`);
  const def = schema._def as z.ZodLazyDef & { openapi?: { _internal?: { refId?: string }; metadata?: object } };
  def.openapi = { ...def.openapi, _internal: { ...def.openapi?._internal, refId: name }, metadata: { type: 'object' } };
  recursive.set(name, schema);
}

/** The recursive schemas marked so far, by component name. */
export const recursiveSchemas = (): ReadonlyMap<string, z.ZodLazy<z.ZodTypeAny>> => recursive;
