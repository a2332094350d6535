import 'reflect-metadata';
import { recursiveSchemas } from './zod-openapi';
import { OpenApiGeneratorV31, OpenAPIRegistry, type ResponseConfig, type RouteConfig, type ZodContentObject } from '@asteasolutions/zod-to-openapi';
import type { OpenAPIObject } from 'openapi3-ts/oas31';
import { z } from 'zod';
import { ErrorBodySchema, REQUIRES_METADATA, type ApiOperation, type BodySchema, type RouteRequirement } from './api-operation';
import { routeOf } from './controller-routes';

export interface OpenApiDocumentOptions {
  service: string;
  version?: string;
  operations: readonly ApiOperation[];
}

/** Fastify's own refusal of an over-long path parameter, answered before any Nest route or filter runs. */
const FRAMEWORK_ERROR = z.object({ statusCode: z.number().int(), error: z.string(), message: z.string() }).passthrough();

const STATUS_TEXT: Record<number, string> = {
  400: 'The request is invalid: every problem with its field path',
  401: 'No valid credential',
  403: 'The credential is valid but its role or scope is too weak, or the resource is not its tenant’s',
  404: 'No such resource for this tenant',
  409: 'Conflicts with the current state',
  413: 'The body is over the size limit',
  414: 'A path parameter is over the length the server takes (1000 characters; Fastify’s own error body)',
  415: 'The content type is not one the route takes',
  429: 'Over the tenant’s rate limit (see Retry-After)',
  503: 'Not ready yet, or a dependency is unreachable; retry shortly',
};

/** The route's requirement: the handler's own, else its controller's (how Nest's Reflector resolves it for the guard). */
export function requirementOf(controller: ApiOperation['handler'][0], method: string): RouteRequirement | undefined {
  const handler = (controller.prototype as Record<string, unknown>)[method];
  return (
    (typeof handler === 'function' ? (Reflect.getMetadata(REQUIRES_METADATA, handler) as RouteRequirement | undefined) : undefined) ??
    (Reflect.getMetadata(REQUIRES_METADATA, controller) as RouteRequirement | undefined)
  );
}

/** `/v1/tenants/:tenant` (Nest) as `/v1/tenants/{tenant}` (OpenAPI). */
export const openApiPath = (nestPath: string) => nestPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

function content(byType: Record<string, BodySchema>): ZodContentObject {
  return Object.fromEntries(Object.entries(byType).map(([type, schema]) => [type, { schema }]));
}

/** Path parameters the declaration did not describe are still parameters: plain strings, as Nest hands them over. */
function paramsOf(path: string, declared: z.AnyZodObject | undefined): z.AnyZodObject | undefined {
  const names = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
  const missing = names.filter((n) => !declared?.shape[n]);
  if (missing.length === 0) return declared;
  const extra = z.object(Object.fromEntries(missing.map((n) => [n, z.string()])));
  return declared ? declared.merge(extra) : extra;
}

/**
 * The service's OpenAPI 3.1 document from its operation list. Every answer a route can give is
 * listed: its successes, the errors its declaration implies (400 for any input, 401/403 when
 * protected, 413/415 for a body) and the ones it names, so a response outside them is a finding.
 */
export function buildOpenApiDocument(options: OpenApiDocumentOptions): OpenAPIObject {
  const registry = new OpenAPIRegistry();
  const errorRef = registry.register('Error', ErrorBodySchema);
  registry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    description: 'A tenant API key (`hr_…`), a person’s JWT issued by control, or the platform admin token',
  });

  for (const op of options.operations) {
    const [controller, method] = op.handler;
    const route = routeOf(controller, method);
    if (!route) throw new Error(`${controller.name}.${method} is not a Nest route handler`);
    const path = openApiPath(op.path ?? route.path);
    const requirement = requirementOf(controller, method);
    const isPublic = requirement?.public === true;
    const hasInput = Boolean(op.request?.params || op.request?.query || op.request?.headers || op.request?.body || /\{/.test(path));
    const errorStatuses = new Set<number>(op.errors ?? []);
    if (hasInput) errorStatuses.add(400);
    // Fastify refuses a path parameter longer than its maxParamLength (runtime bootstrap: 1000) before any route runs.
    if (/\{/.test(path)) errorStatuses.add(414);
    if (!isPublic) [401, 403].forEach((s) => errorStatuses.add(s));
    if (op.request?.body) [413, 415].forEach((s) => errorStatuses.add(s));

    // A route with its own error envelope still has Fastify's refusals of a body it cannot parse
    // (400/413/415) in the house shape, and the guard's 401/403 too unless its controller renders them.
    const errorSchema = (status: number) =>
      status === 414
        ? FRAMEWORK_ERROR
        : !op.errorBody || ((status === 401 || status === 403) && !op.guardErrorsInErrorBody)
        ? errorRef
        : [400, 413, 415].includes(status)
          ? z.union([op.errorBody, errorRef])
          : op.errorBody;
    const responses: Record<string, ResponseConfig> = {};
    for (const [status, r] of Object.entries(op.responses)) {
      responses[status] = {
        description: r.description,
        ...(r.content ? { content: content(r.content) } : {}),
        ...(r.headers ? { headers: r.headers } : {}),
      };
    }
    for (const status of [...errorStatuses].sort()) {
      responses[String(status)] = { description: STATUS_TEXT[status] ?? 'Error', content: { 'application/json': { schema: errorSchema(status) } } };
    }

    const config: RouteConfig = {
      method: op.method ?? route.method,
      path,
      operationId: `${controller.name}.${method}${op.path ? `:${op.path}` : ''}`,
      summary: op.summary,
      ...(op.description ? { description: op.description } : {}),
      tags: op.tags ?? [controller.name.replace(/Controller$/, '')],
      security: isPublic ? [] : [{ bearer: [] }],
      ...(requirement?.role ? { 'x-required-role': requirement.role } : {}),
      ...(requirement?.scope ? { 'x-required-scope': requirement.scope } : {}),
      request: {
        ...(paramsOf(path, op.request?.params) ? { params: paramsOf(path, op.request?.params) } : {}),
        ...(op.request?.query ? { query: op.request.query } : {}),
        ...(op.request?.headers ? { headers: op.request.headers } : {}),
        ...(op.request?.body ? { body: { required: op.request.body.required ?? true, content: content(op.request.body.content) } } : {}),
      },
      responses,
    };
    registry.registerPath(config);
  }

  const document = new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: { title: `Headroom ${options.service}`, version: options.version ?? '1' },
  });
  fillRecursiveComponents(document);
  return document;
}

/** A recursive component was generated as a bare object (see documentRecursive): its body, whose own recursion is a `$ref` to itself. */
function fillRecursiveComponents(document: OpenAPIObject): void {
  const schemas = document.components?.schemas ?? {};
  for (const [name, lazy] of recursiveSchemas()) {
    if (!schemas[name]) continue;
    const registry = new OpenAPIRegistry();
    const body = `${name}__body`;
    registry.register(body, lazy._def.getter());
    const generated = new OpenApiGeneratorV31(registry.definitions).generateComponents().components?.schemas ?? {};
    schemas[name] = generated[body]!;
  }
}
