import { buildOpenApiDocument, controllersOf, createLogger, routesOf, RUNTIME_OPERATIONS, undocumentedRoutes } from '@headroom/runtime';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '@headroom/config';
import { generateControlSigningKeys } from '@headroom/crypto';
import { serviceEnv } from '@headroom/testing';
import { AppModule } from './app.module';
import { analyticsEnvSchema } from './config';
import { ANALYTICS_OPERATIONS } from './openapi';

describe('analytics OpenAPI document', () => {
  const document = buildOpenApiDocument({ service: 'analytics', operations: [...RUNTIME_OPERATIONS, ...ANALYTICS_OPERATIONS] });
  // The service's real configuration (fresh secrets, no server contacted): forRoot builds the module tree only.
  const keys = generateControlSigningKeys();
  const secrets = { kek: randomBytes(32).toString('base64'), adminToken: randomBytes(24).toString('base64url'), slackToken: 'xoxb-spec', controlSigningKey: keys.signingKey, controlPublicKey: keys.publicKey, metricsToken: randomBytes(24).toString('base64url') };
  const config = loadConfig(analyticsEnvSchema, serviceEnv('analytics', secrets, { slackApiUrl: 'http://127.0.0.1:9' }));
  // The controllers the AppModule tree declares, read from Nest's module metadata (no provider is built).
  const routes = routesOf(controllersOf(AppModule.forRoot(config, createLogger('analytics', 'silent'))));

  it('describes every route the service registers', () => {
    expect(routes.length).toBeGreaterThan(RUNTIME_OPERATIONS.length);
    expect(undocumentedRoutes(document, routes)).toEqual([]);
  });
});
