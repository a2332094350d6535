import { buildOpenApiDocument, controllersOf, createLogger, routesOf, RUNTIME_OPERATIONS, undocumentedRoutes } from '@headroom/runtime';
import { AppModule } from './app.module';
import { COLLECTORS_OPERATIONS } from './openapi';
import { RECEIVERS } from './receivers/registry';

describe('collectors OpenAPI document', () => {
  const document = buildOpenApiDocument({ service: 'collectors', operations: [...RUNTIME_OPERATIONS, ...COLLECTORS_OPERATIONS] });
  // The controllers the AppModule tree declares, read from Nest's module metadata (no provider is built).
  const routes = routesOf(controllersOf(AppModule.forRoot({} as never, createLogger('collectors', 'silent'))));

  it('describes every route the service registers', () => {
    expect(routes.length).toBeGreaterThan(RUNTIME_OPERATIONS.length);
    expect(undocumentedRoutes(document, routes)).toEqual([]);
  });

  // One Nest route (POST *) serves every receiver: the registry it dispatches on is the list to cover.
  it('describes every receiver path, with its raw content types as binary', () => {
    for (const r of RECEIVERS) {
      const body = document.paths?.[r.path]?.post?.requestBody as { content: Record<string, { schema: object }> } | undefined;
      expect(body).toBeDefined();
      for (const type of r.rawContentTypes) expect(body?.content[type]?.schema).toEqual({ type: 'string', format: 'binary' });
    }
  });
});
