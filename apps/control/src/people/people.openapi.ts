import { z } from 'zod';
import type { ApiOperation } from '@headroom/runtime';
import { AuditController, AuditVerifyQuerySchema, ChainReportSchema } from '../audit/audit.controller';
import { PeopleController } from './people.controller';
import { MintTokenBodySchema, PersonTokensParamsSchema, TokenParamsSchema } from './people.dto';

const json = (schema: z.ZodTypeAny) => ({ 'application/json': schema });
const Jwk = z.object({ kty: z.string(), kid: z.string(), alg: z.string().optional(), use: z.string().optional() }).passthrough();

/** People's tokens and the audit chain's check: each body and parameter schema is the one its handler parses with. */
export const PEOPLE_OPERATIONS: readonly ApiOperation[] = [
  {
    handler: [PeopleController, 'jwks'],
    summary: 'Public keys of people’s tokens (RFC 7517)',
    responses: { 200: { description: 'The key set', content: json(z.object({ keys: z.array(Jwk) })) } },
  },
  {
    handler: [PeopleController, 'mint'],
    summary: 'A token for a person, in one tenant with one role (at most the caller’s), 12 h at most',
    request: { body: { content: json(MintTokenBodySchema) } },
    responses: { 201: { description: 'The token', content: json(z.object({ token: z.string() }).passthrough()) } },
    // The named tenant does not exist (or is not the caller's): the same answer either way.
    errors: [404],
  },
  {
    handler: [PeopleController, 'revoke'],
    summary: 'Revoke one person’s token before its expiry (a tenant’s admin: its own tenant’s tokens only)',
    request: { params: TokenParamsSchema },
    responses: { 200: { description: 'Revoked', content: json(z.object({ revoked: z.array(z.string()) })) } },
    // Unknown, another tenant's, already revoked or expired: the same answer.
    errors: [404],
  },
  {
    handler: [PeopleController, 'revokePerson'],
    summary: 'Revoke every live token of one person in the tenant',
    request: { params: PersonTokensParamsSchema },
    responses: { 200: { description: 'The revoked tokens’ ids (none is not an error)', content: json(z.object({ revoked: z.array(z.string()) })) } },
    errors: [404],
  },
  {
    handler: [PeopleController, 'rotate'],
    summary: 'A new signing key for people’s tokens (the previous one is still accepted for 12 h)',
    responses: { 201: { description: 'The new key id', content: json(z.object({}).passthrough()) } },
  },
  {
    handler: [AuditController, 'verify'],
    summary: 'Verify one audit chain (a tenant’s, or `platform`) and name its first broken link',
    request: { query: AuditVerifyQuerySchema },
    responses: { 200: { description: 'The chain report', content: json(ChainReportSchema) } },
  },
];
