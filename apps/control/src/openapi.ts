import { z } from 'zod';
import { AlertRouteSchema, ApiKeyScopeSchema } from '@headroom/contracts';
import { documentRecursive, type ApiOperation } from '@headroom/runtime';
import { AuditController, AuditQuerySchema } from './audit/audit.controller';
import { AlertConfigBodySchema, CreateApiKeyBodySchema, CreateTenantBodySchema, LimitsPatchBodySchema } from './tenants/tenants.dto';
import { TenantParamsSchema, TenantsController } from './tenants/tenants.controller';
import { ERASURE_OPERATIONS } from './erasure/erasure.openapi';
import { KEYS_OPERATIONS } from './keys/keys.openapi';
import { PEOPLE_OPERATIONS } from './people/people.openapi';

// The routing tree nests routes in routes.
documentRecursive('AlertRoute', AlertRouteSchema);

const json = (schema: z.ZodTypeAny) => ({ 'application/json': schema });

// Answers: what the service returns, open to fields added later (a client ignores what it does not know).
const TenantSchema = z
  .object({ id: z.string(), displayName: z.string(), locale: z.string(), shards: z.number().int(), status: z.string(), createdAt: z.string() })
  .passthrough();
const ApiKeySchema = z.object({ keyId: z.string(), tenant: z.string(), scopes: z.array(ApiKeyScopeSchema), secret: z.string(), createdAt: z.string() }).passthrough();
const KeyIdParamsSchema = TenantParamsSchema.extend({ keyId: z.string() });

/** Control's HTTP API: each body and parameter schema is the one its handler parses with. */
export const CONTROL_OPERATIONS: readonly ApiOperation[] = [
  {
    handler: [TenantsController, 'create'],
    summary: 'Create a tenant (with its first data key)',
    request: { body: { content: json(CreateTenantBodySchema) } },
    responses: { 201: { description: 'Created', content: json(TenantSchema) } },
    errors: [409],
  },
  {
    handler: [TenantsController, 'list'],
    summary: 'Every tenant',
    responses: { 200: { description: 'Tenants by id', content: json(z.array(TenantSchema)) } },
  },
  {
    handler: [TenantsController, 'createApiKey'],
    summary: 'Create an API key; its secret is shown once',
    request: { params: TenantParamsSchema, body: { required: false, content: json(CreateApiKeyBodySchema) } },
    responses: { 201: { description: 'The key, with its secret', content: json(ApiKeySchema) } },
    errors: [404],
  },
  {
    handler: [TenantsController, 'revokeApiKey'],
    summary: 'Revoke an API key (every service refuses it within seconds)',
    request: { params: KeyIdParamsSchema },
    responses: { 200: { description: 'Revoked', content: json(z.object({ keyId: z.string(), revoked: z.literal(true) })) } },
    errors: [404],
  },
  {
    handler: [TenantsController, 'putAlertConfig'],
    summary: 'Replace the tenant’s alerting configuration (validated as alerting will load it)',
    request: { params: TenantParamsSchema, body: { content: json(AlertConfigBodySchema) } },
    responses: { 200: { description: 'The stored configuration, secrets redacted', content: json(z.object({ kind: z.string(), tenant: z.string() }).passthrough()) } },
    errors: [404],
  },
  {
    handler: [TenantsController, 'patchLimits'],
    summary: 'Override some of the tenant’s limits (null: back to the default)',
    request: { params: TenantParamsSchema, body: { content: json(LimitsPatchBodySchema) } },
    responses: {
      200: {
        description: 'The overrides and the effective limits',
        content: json(z.object({ tenant: z.string(), overrides: z.record(z.unknown()), effective: z.record(z.unknown()) }).passthrough()),
      },
    },
    errors: [404],
  },
  {
    handler: [TenantsController, 'rotate'],
    summary: 'Rotate the tenant’s data key',
    request: { params: TenantParamsSchema },
    responses: { 201: { description: 'The new version', content: json(z.object({ tenant: z.string(), version: z.number().int() }).passthrough()) } },
    errors: [404],
  },
  {
    handler: [TenantsController, 'erase'],
    summary: 'Erase the tenant (its data keys destroyed: its Kafka history becomes unreadable)',
    request: { params: TenantParamsSchema },
    responses: {
      200: { description: 'Erased; follow the services’ deletions at /v1/erasures/{erasureId}', content: json(z.object({ tenant: z.string(), erasedAt: z.string(), keysDestroyed: z.number().int(), erasureId: z.string().uuid() }).passthrough()) },
    },
    errors: [404],
  },
  {
    handler: [AuditController, 'list'],
    summary: 'Audit events, newest first',
    request: { query: AuditQuerySchema },
    responses: { 200: { description: 'Events', content: json(z.object({ events: z.array(z.object({ id: z.string(), at: z.string(), action: z.string() }).passthrough()) })) } },
  },
  ...KEYS_OPERATIONS,
  ...PEOPLE_OPERATIONS,
  ...ERASURE_OPERATIONS,
];
