import { buildOpenApiDocument, controllersOf, createLogger, routesOf, RUNTIME_OPERATIONS, undocumentedRoutes } from '@headroom/runtime';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '@headroom/config';
import { generateControlSigningKeys } from '@headroom/crypto';
import { serviceEnv } from '@headroom/testing';
import { AppModule } from './app.module';
import { collectorsEnvSchema } from './config';
import { COLLECTORS_OPERATIONS } from './openapi';
import { RECEIVERS } from './receivers/registry';

describe('collectors OpenAPI document', () => {
  const document = buildOpenApiDocument({ service: 'collectors', operations: [...RUNTIME_OPERATIONS, ...COLLECTORS_OPERATIONS] });
  // The service's real configuration (fresh secrets, no server contacted): forRoot builds the module tree only.
  const keys = generateControlSigningKeys();
  const secrets = { kek: randomBytes(32).toString('base64'), adminToken: randomBytes(24).toString('base64url'), slackToken: 'xoxb-spec', controlSigningKey: keys.signingKey, controlPublicKey: keys.publicKey, metricsToken: randomBytes(24).toString('base64url') };
  const config = loadConfig(collectorsEnvSchema, serviceEnv('collectors', secrets, { slackApiUrl: 'http://127.0.0.1:9' }));
  // The controllers the AppModule tree declares, read from Nest's module metadata (no provider is built).
  const routes = routesOf(controllersOf(AppModule.forRoot(config, createLogger('collectors', 'silent'))));

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
