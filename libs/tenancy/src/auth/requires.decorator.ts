import { SetMetadata } from '@nestjs/common';
import type { Role } from './roles';

/** Metadata key of every route's declaration; the OpenAPI generator reads it too. */
export const REQUIRES_METADATA = 'headroom:requires';

export interface RouteRequirement {
  role?: Role;
  scope?: 'ingest';
  public?: boolean;
}

/**
 * What a route needs: a role (viewer < operator < admin < platform-admin) or the ingest scope of an
 * API key. A route with a `:tenant` path parameter also needs the credential to be that tenant's
 * (platform-admin excepted). A route with neither this nor `@Public()` is refused (fail closed).
 */
export const Requires = (requirement: { role: Role; scope?: never } | { scope: 'ingest'; role?: never }) =>
  SetMetadata(REQUIRES_METADATA, { ...requirement } satisfies RouteRequirement);

/** No credential needed: health probes, the JWKS, requests verified another way (Slack's signature). */
export const Public = () => SetMetadata(REQUIRES_METADATA, { public: true } satisfies RouteRequirement);
