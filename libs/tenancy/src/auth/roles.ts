import type { ApiKeyScope } from '@headroom/contracts';

/** Per-tenant roles, weakest first; `platform-admin` acts on every tenant. */
export const ROLES = ['viewer', 'operator', 'admin', 'platform-admin'] as const;
export type Role = (typeof ROLES)[number];
export type TenantRole = Exclude<Role, 'platform-admin'>;

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

/** Whether a principal holding `held` may use a route that needs `needed`. */
export function roleAtLeast(held: Role | undefined, needed: Role): boolean {
  return held !== undefined && ROLES.indexOf(held) >= ROLES.indexOf(needed);
}

/**
 * The role an API key's scopes carry: `admin` → admin, `read` → viewer. `ingest` carries none: an
 * ingest key opens only the routes that ask for the ingest scope, so a key leaked from a producer's
 * config cannot read the tenant's data.
 */
export function roleOfScopes(scopes: readonly ApiKeyScope[]): TenantRole | undefined {
  if (scopes.includes('admin')) return 'admin';
  if (scopes.includes('read')) return 'viewer';
  return undefined;
}
