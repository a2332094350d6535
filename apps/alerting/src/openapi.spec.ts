import { buildOpenApiDocument, controllersOf, createLogger, routesOf, RUNTIME_OPERATIONS, undocumentedRoutes } from '@headroom/runtime';
import { AppModule } from './app.module';
import { ALERTING_OPERATIONS } from './openapi';

describe('alerting OpenAPI document', () => {
  const document = buildOpenApiDocument({ service: 'alerting', operations: [...RUNTIME_OPERATIONS, ...ALERTING_OPERATIONS] });
  // The controllers the AppModule tree declares, read from Nest's module metadata (no provider is built).
  const routes = routesOf(controllersOf(AppModule.forRoot({} as never, createLogger('alerting', 'silent'))));

  it('describes every route the service registers', () => {
    expect(routes.length).toBeGreaterThan(RUNTIME_OPERATIONS.length);
    expect(undocumentedRoutes(document, routes)).toEqual([]);
  });
});
