import type { Type } from '@nestjs/common';
import type { SchemaObject } from 'openapi3-ts/oas31';
import { z } from 'zod';

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** A zod schema (the handler's own, so the document cannot drift from validation) or, for bytes and text, a plain OpenAPI schema. */
export type BodySchema = z.ZodTypeAny | SchemaObject;

export interface ApiBody {
  /** Several content types share one schema, e.g. a protobuf body sent plain or compressed. */
  content: Record<string, BodySchema>;
  required?: boolean;
}

export interface ApiResponse {
  description: string;
  /** By content type; absent for an empty answer. */
  content?: Record<string, BodySchema>;
  headers?: Record<string, { description: string; schema: SchemaObject }>;
}

/**
 * One HTTP operation of a service. The method and path come from the handler's Nest route
 * metadata and its security from its `'headroom:requires'` metadata, so neither can drift from the
 * router or the guard; `path` is given only where one Nest route serves several paths (a wildcard).
 */
export interface ApiOperation {
  handler: readonly [Type<unknown>, string];
  path?: string;
  method?: HttpMethod;
  summary: string;
  description?: string;
  tags?: string[];
  request?: {
    params?: z.AnyZodObject;
    query?: z.AnyZodObject | z.ZodEffects<z.AnyZodObject>;
    headers?: z.AnyZodObject;
    body?: ApiBody;
  };
  /** The answers that are not errors, by status. */
  responses: Record<number, ApiResponse>;
  /**
   * Error statuses the handler answers beyond the ones implied by the declaration (400 for any
   * input, 401/403 for a protected route, 413/415 for a body): 404, 409, 429, 503…
   */
  errors?: number[];
  /**
   * The handler's error body when it does not answer the house shape (e.g. Prometheus's API
   * envelope). Refusals before the handler (an unparsable body; the guard's 401/403 unless
   * `guardErrorsInErrorBody`) keep the house shape.
   */
  errorBody?: z.ZodTypeAny;
  /** The controller also renders the guard's 401/403 in `errorBody` (an exception filter on it), not the house shape. */
  guardErrorsInErrorBody?: boolean;
}

/**
 * The error shape every service answers through HttpErrorFilter. Objects stay open: a handler may
 * add fields (an expression's line and column, a refusal's reason) and a client must ignore them.
 */
export const ErrorBodySchema = z
  .object({
    error: z.string().regex(/^[a-z_]+$/),
    message: z.string().optional(),
    issues: z.array(z.object({ path: z.string(), message: z.string() }).passthrough()).optional(),
  })
  .passthrough();

/** What a route's `'headroom:requires'` metadata says (written by `@Requires`/`@Public` in @headroom/tenancy). */
export interface RouteRequirement {
  role?: string;
  scope?: string;
  public?: boolean;
}

export const REQUIRES_METADATA = 'headroom:requires';
