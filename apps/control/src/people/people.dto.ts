import { z } from 'zod';
import { TenantIdSchema } from '@headroom/contracts';
import { PEOPLE_TOKEN_MAX_TTL_SECONDS, ROLES } from '@headroom/tenancy';

/** `POST /v1/tokens`: a token for one person (`sub`: an email, a directory id) in one tenant, with one role. */
export const MintTokenBodySchema = z
  .object({
    sub: z.string().min(1).max(200),
    role: z.enum(ROLES),
    tenant: TenantIdSchema.optional(),
    ttlSeconds: z.number().int().min(60).max(PEOPLE_TOKEN_MAX_TTL_SECONDS).default(3600),
  })
  .strict()
  .refine((b) => (b.role === 'platform-admin') === (b.tenant === undefined), { message: 'a tenant role names its tenant; platform-admin names none', path: ['tenant'] });
export type MintTokenBody = z.infer<typeof MintTokenBodySchema>;

export const TokenParamsSchema = z.object({ jti: z.string().min(8).max(64) });
export const PersonTokensParamsSchema = z.object({ tenant: TenantIdSchema, sub: z.string().min(1).max(200) });
