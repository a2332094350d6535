import { z } from 'zod';
import type { ApiOperation } from '@headroom/runtime';
import { TenantParamsSchema } from '../tenants/tenants.controller';
import { KeysController } from './keys.controller';

const json = (schema: z.ZodTypeAny) => ({ 'application/json': schema });

const VersionSchema = z
  .object({
    version: z.number().int(),
    state: z.enum(['current', 'active', 'retired']),
    createdAt: z.string(),
    supersededAt: z.string().optional(),
    retirable: z.boolean(),
    keptBecause: z.array(z.object({ code: z.string(), message: z.string(), until: z.string().optional() }).passthrough()),
  })
  .passthrough();
const KekStatusSchema = z
  .object({
    current: z.string(),
    previous: z.array(z.string()),
    tenantKeys: z.object({ total: z.number().int(), byKek: z.record(z.number().int()) }),
    signingKeys: z.object({ total: z.number().int(), byKek: z.record(z.number().int()) }),
    remaining: z.number().int(),
  })
  .passthrough();

/** The key-lifecycle routes (keys.controller.ts), part of control's OpenAPI document. */
export const KEYS_OPERATIONS: readonly ApiOperation[] = [
  {
    handler: [KeysController, 'list'],
    summary: 'The tenant’s data-key versions, with their state and what keeps each from retirement',
    request: { params: TenantParamsSchema },
    responses: {
      200: {
        description: 'Versions, oldest first',
        content: json(z.object({ tenant: z.string(), current: z.number().int().optional(), maxAgeMs: z.number(), retireAfterMs: z.number(), versions: z.array(VersionSchema) }).passthrough()),
      },
    },
    errors: [404],
  },
  {
    handler: [KeysController, 'retireExpired'],
    summary: 'Re-seal stored secrets under the current version, then retire every version the retirement rule allows',
    request: { params: TenantParamsSchema },
    responses: {
      200: { description: 'What was re-sealed and retired', content: json(z.object({ tenant: z.string(), resealed: z.boolean(), retired: z.array(z.number().int()), versions: z.array(VersionSchema) }).passthrough()) },
    },
    errors: [404],
  },
  {
    handler: [KeysController, 'kekStatus'],
    summary: 'Which KEK wraps the stored keys, and how many remain under another one',
    responses: { 200: { description: 'Keys by KEK', content: json(KekStatusSchema) } },
  },
  {
    handler: [KeysController, 'rewrap'],
    summary: 'Re-wrap every stored key under the current KEK (KEK rotation) and republish the tenant keys',
    responses: {
      200: {
        description: 'Keys by KEK afterwards, how many were re-wrapped, and those no configured KEK opens',
        content: json(KekStatusSchema.extend({ rewrapped: z.number().int(), failed: z.array(z.object({ key: z.string(), reason: z.string() })) })),
      },
    },
  },
];
