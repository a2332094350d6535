import { Body, Controller, Delete, Get, Module, Post, SetMetadata, type DynamicModule } from '@nestjs/common';
import { z } from 'zod';
import { controllersOf, routesOf, undocumentedRoutes } from './controller-routes';
import { buildOpenApiDocument } from './openapi-document';
import { RUNTIME_OPERATIONS } from './runtime-operations';
import { documentRecursive } from './zod-openapi';
import type { ApiOperation } from './api-operation';

const Requires = (r: object) => SetMetadata('headroom:requires', r);
const ThingBody = z.object({ name: z.string().min(1), size: z.number().int().max(10).default(1) }).strict();

@Controller('v1/things')
@Requires({ role: 'viewer' })
class ThingsController {
  @Get()
  list() {
    return [];
  }

  @Post()
  @Requires({ role: 'admin' })
  create(@Body() body: unknown) {
    return ThingBody.parse(body);
  }

  @Delete(':thing')
  remove() {
    return {};
  }

  @Post('hooks/*')
  @Requires({ public: true })
  hook() {
    return {};
  }
}

@Module({ controllers: [ThingsController] })
class ThingsModule {}

const operations: ApiOperation[] = [
  { handler: [ThingsController, 'list'], summary: 'List', responses: { 200: { description: 'ok', content: { 'application/json': z.array(ThingBody) } } } },
  { handler: [ThingsController, 'create'], summary: 'Create', request: { body: { content: { 'application/json': ThingBody } } }, responses: { 201: { description: 'made' } }, errors: [409] },
  { handler: [ThingsController, 'remove'], summary: 'Remove', responses: { 200: { description: 'gone' } } },
  { handler: [ThingsController, 'hook'], path: '/v1/things/hooks/push', summary: 'Hook', request: { body: { content: { 'application/x-protobuf': { type: 'string', format: 'binary' } } } }, responses: { 204: { description: 'taken' } } },
];

describe('buildOpenApiDocument', () => {
  const doc = buildOpenApiDocument({ service: 'things', operations: [...RUNTIME_OPERATIONS, ...operations] });
  const paths = doc.paths ?? {};

  it('takes method and path from the Nest route and security from the route metadata, the handler’s over its controller’s', () => {
    expect(paths['/v1/things']?.get?.['x-required-role']).toBe('viewer');
    expect(paths['/v1/things']?.get?.security).toEqual([{ bearer: [] }]);
    expect(paths['/v1/things']?.post?.['x-required-role']).toBe('admin');
    expect(paths['/v1/things/hooks/push']?.post?.security).toEqual([]);
  });

  it('describes a body with the very zod schema the handler parses with', () => {
    const body = paths['/v1/things']?.post?.requestBody as { content: Record<string, { schema: Record<string, unknown> }> };
    expect(body.content['application/json'].schema).toMatchObject({
      type: 'object',
      additionalProperties: false,
      required: ['name'],
      properties: { name: { type: 'string', minLength: 1 }, size: { type: 'integer', maximum: 10, default: 1 } },
    });
    expect((paths['/v1/things/hooks/push']?.post?.requestBody as { content: object }).content).toEqual({ 'application/x-protobuf': { schema: { type: 'string', format: 'binary' } } });
  });

  it('lists every answer: successes, the errors its declaration implies, and the ones it names', () => {
    expect(Object.keys(paths['/v1/things']?.post?.responses ?? {}).sort()).toEqual(['201', '400', '401', '403', '409', '413', '415']);
    expect(Object.keys(paths['/v1/things']?.get?.responses ?? {}).sort()).toEqual(['200', '401', '403']);
    // A public route has no 401/403 of its own.
    expect(Object.keys(paths['/v1/things/hooks/push']?.post?.responses ?? {}).sort()).toEqual(['204', '400', '413', '415']);
  });

  it('declares path parameters the operation did not describe', () => {
    expect(paths['/v1/things/{thing}']?.delete?.parameters).toEqual([expect.objectContaining({ in: 'path', name: 'thing', required: true, schema: { type: 'string' } })]);
  });

  it('serves the runtime routes and itself publicly', () => {
    expect(paths['/openapi.json']?.get?.security).toEqual([]);
    expect(Object.keys(paths)).toEqual(expect.arrayContaining(['/healthz', '/readyz', '/metrics']));
  });

  it('refuses an operation whose handler is not a route', () => {
    expect(() => buildOpenApiDocument({ service: 'x', operations: [{ handler: [ThingsController, 'nope'], summary: '', responses: {} }] })).toThrow(/not a Nest route handler/);
  });

  it('describes a recursive schema as a component that refers to itself', () => {
    type Node = { name: string; children?: Node[] };
    const NodeSchema: z.ZodType<Node> = z.lazy(() => z.object({ name: z.string(), children: z.array(NodeSchema).optional() }));
    documentRecursive('Node', NodeSchema);
    const d = buildOpenApiDocument({
      service: 'x',
      operations: [{ handler: [ThingsController, 'create'], summary: '', request: { body: { content: { 'application/json': z.object({ root: NodeSchema }) } } }, responses: { 201: { description: '' } } }],
    });
    expect(d.components?.schemas?.['Node']).toMatchObject({ type: 'object', properties: { name: { type: 'string' }, children: { type: 'array', items: { $ref: '#/components/schemas/Node' } } } });
  });
});

describe('undocumentedRoutes', () => {
  const root: DynamicModule = { module: class Root {}, imports: [ThingsModule] };
  const routes = routesOf(controllersOf(root));

  it('finds every route Nest registers from the module tree', () => {
    expect(routes.map((r) => `${r.method} ${r.path}`).sort()).toEqual(['delete /v1/things/:thing', 'get /v1/things', 'post /v1/things', 'post /v1/things/hooks/*']);
  });

  it('is empty when the document describes them all, and names the ones it lacks', () => {
    expect(undocumentedRoutes(buildOpenApiDocument({ service: 't', operations }), routes)).toEqual([]);
    expect(undocumentedRoutes(buildOpenApiDocument({ service: 't', operations: operations.filter((o) => o.handler[1] !== 'remove' && o.handler[1] !== 'hook') }), routes)).toEqual([
      'DELETE /v1/things/:thing',
      'POST /v1/things/hooks/*',
    ]);
  });
});

describe('a route with its own error envelope', () => {
  const Envelope = z.object({ status: z.literal('error'), error: z.string() });
  const doc = buildOpenApiDocument({
    service: 't',
    operations: [{ handler: [ThingsController, 'create'], summary: '', request: { body: { content: { 'application/json': ThingBody } } }, responses: { 201: { description: '' } }, errors: [422], errorBody: Envelope }],
  });
  const schemaOf = (status: string) => (doc.paths?.['/v1/things']?.post?.responses?.[status] as { content: Record<string, { schema: unknown }> }).content['application/json'].schema;

  it('keeps the house shape for what is refused before the handler runs', () => {
    expect(schemaOf('401')).toEqual({ $ref: '#/components/schemas/Error' });
    expect(schemaOf('422')).toMatchObject({ required: ['status', 'error'] });
    expect(schemaOf('400')).toMatchObject({ anyOf: [expect.objectContaining({ required: ['status', 'error'] }), { $ref: '#/components/schemas/Error' }] });
  });
});
