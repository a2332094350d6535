import { z } from 'zod';
import { TenantIdSchema } from '@headroom/contracts';
import { ROLES } from './roles';

/** `aud` of every token control issues for people: any Headroom service accepts it. */
export const PEOPLE_TOKEN_AUDIENCE = 'headroom';
/** The longest a person's token may live. Before then it dies by revocation (`DELETE /v1/tokens/:jti`) or with its tenant. */
export const PEOPLE_TOKEN_MAX_TTL_SECONDS = 12 * 3600;

/**
 * The claims of a person's token beyond `iss`, `aud` and `exp` (which jose checks): who (`sub`), for
 * which tenant, with which role. A tenant role names its tenant; platform-admin names none.
 */
export const PeopleClaimsSchema = z
  .object({
    sub: z.string().min(1).max(200),
    jti: z.string().min(8).max(64),
    role: z.enum(ROLES),
    tenant: TenantIdSchema.optional(),
  })
  .refine((c) => (c.role === 'platform-admin') === (c.tenant === undefined), { message: 'a tenant role names its tenant; platform-admin names none', path: ['tenant'] });
export type PeopleClaims = z.infer<typeof PeopleClaimsSchema>;
