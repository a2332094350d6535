import { ForbiddenException } from '@nestjs/common';
import type { ApiKeyScope } from '@headroom/contracts';
import type { Role } from './roles';

/**
 * Who is calling, set on `request.principal` by the AuthGuard. `tenant` is absent only for platform
 * credentials; `role` is absent for an ingest-only API key.
 */
export interface Principal {
  actor: `key:${string}` | `person:${string}` | 'platform';
  tenant?: string;
  role?: Role;
  scopes?: ApiKeyScope[];
}

interface WithPrincipal {
  principal?: Principal;
}

export function principalOf(request: unknown): Principal | undefined {
  return (request as WithPrincipal).principal;
}

/**
 * The tenant a request acts for, from its credential only (the routes without `:tenant`: query APIs,
 * alert groups). A platform credential names one only through X-Scope-OrgID (see AuthGuard); without
 * it, it is refused there.
 */
export function tenantOf(request: unknown): { tenant: string; actor: Principal['actor'] } {
  const p = principalOf(request);
  if (!p?.tenant) throw new ForbiddenException({ error: 'forbidden', message: 'this route serves the credential\'s own tenant; use a tenant\'s API key or token, or a platform credential with X-Scope-OrgID' });
  return { tenant: p.tenant, actor: p.actor };
}
