import { createHash, timingSafeEqual } from 'node:crypto';
import { createLocalJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { JwksRecord } from '@headroom/contracts';
import type { TenantDirectory } from '../tenant-directory';
import { parseApiKey } from '../api-key';
import { PEOPLE_TOKEN_AUDIENCE, PeopleClaimsSchema } from './people-token';
import type { Principal } from './principal';
import { roleOfScopes } from './roles';

export interface AuthenticatorOptions {
  /** control's bootstrap credential (`CONTROL_ADMIN_TOKEN`): platform-admin, actor `platform`. Other services have none. */
  platformToken?: string;
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * Turns a presented credential into a Principal, from what this service already holds: API keys
 * and people's public keys both arrive on the control topic, so nothing here calls control.
 */
export class Authenticator {
  private keySet: { record: JwksRecord; get: JWTVerifyGetKey } | undefined;
  private readonly platformDigest: Buffer | undefined;

  constructor(
    private readonly directory: TenantDirectory,
    options: AuthenticatorOptions = {},
  ) {
    this.platformDigest = options.platformToken ? digest(options.platformToken) : undefined;
  }

  /** Whether `tenant` exists and is active (a platform credential may act for it: X-Scope-OrgID). */
  tenantIsActive(tenant: string): boolean {
    return this.directory.isActive(tenant);
  }

  async authenticate(credential: string | undefined): Promise<Principal | undefined> {
    if (!credential) return undefined;
    if (parseApiKey(credential)) {
      const key = this.directory.apiKey(credential);
      if (!key) return undefined;
      const role = roleOfScopes(key.scopes);
      return { actor: `key:${key.keyId}`, tenant: key.tenant, scopes: key.scopes, ...(role ? { role } : {}) };
    }
    // Digests of equal length, so the comparison takes the same time whatever was presented.
    if (this.platformDigest && timingSafeEqual(digest(credential), this.platformDigest)) return { actor: 'platform', role: 'platform-admin' };
    if (JWT_SHAPE.test(credential)) return this.person(credential);
    return undefined;
  }

  private async person(token: string): Promise<Principal | undefined> {
    const record = this.directory.jwks();
    if (!record) return undefined;
    if (this.keySet?.record !== record) this.keySet = { record, get: createLocalJWKSet({ keys: record.keys }) };
    let payload: unknown;
    try {
      ({ payload } = await jwtVerify(token, this.keySet.get, { issuer: record.issuer, audience: PEOPLE_TOKEN_AUDIENCE, algorithms: ['EdDSA'], requiredClaims: ['exp', 'sub', 'jti'] }));
    } catch {
      return undefined;
    }
    const claims = PeopleClaimsSchema.safeParse(payload);
    if (!claims.success) return undefined;
    const { sub, role, tenant, jti } = claims.data;
    if (this.directory.isTokenRevoked(jti)) return undefined;
    // A suspended or erased tenant's people are refused at once, whatever their token's expiry.
    if (tenant !== undefined && !this.directory.isActive(tenant)) return undefined;
    return { actor: `person:${sub}`, role, ...(tenant ? { tenant } : {}) };
  }
}
