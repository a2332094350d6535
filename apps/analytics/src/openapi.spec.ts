import { buildOpenApiDocument, controllersOf, createLogger, routesOf, RUNTIME_OPERATIONS, undocumentedRoutes } from '@headroom/runtime';
import { AppModule } from './app.module';
import { ANALYTICS_OPERATIONS } from './openapi';

describe('analytics OpenAPI document', () => {
  const document = buildOpenApiDocument({ service: 'analytics', operations: [...RUNTIME_OPERATIONS, ...ANALYTICS_OPERATIONS] });
  // The controllers the AppModule tree declares, read from Nest's module metadata (no provider is built).
  const routes = routesOf(controllersOf(AppModule.forRoot({} as never, createLogger('analytics', 'silent'))));

  it('describes every route the service registers', () => {
    expect(routes.length).toBeGreaterThan(RUNTIME_OPERATIONS.length);
    expect(undocumentedRoutes(document, routes)).toEqual([]);
  });
});
