import {
  ControlRecordSchema,
  type AlertConfigRecord,
  type ApiKeyRecord,
  type ApiKeyScope,
  type ControlRecord,
  type JwksRecord,
  type TenantRecord,
} from '@headroom/contracts';
import type { TenantKeyring } from '@headroom/crypto';
import { API_KEY_MAC_LABEL, hashApiKey, hashesEqual, parseApiKey } from './api-key';

/** A valid API key: its tenant, id and scopes (the AuthGuard turns it into a request's Principal). */
export interface ApiKeyPrincipal {
  tenant: string;
  keyId: string;
  scopes: ApiKeyScope[];
}

/**
 * Every service's view of tenants, API keys, data keys and alert configuration, built only from the
 * compacted control topic (latest record per key wins; a tombstone deletes). Data keys go straight
 * into the keyring; an erasure record shreds the tenant's keys.
 */
export class TenantDirectory {
  private readonly tenantsById = new Map<string, TenantRecord>();
  private readonly apiKeys = new Map<string, ApiKeyRecord>();
  private readonly alertConfigs = new Map<string, AlertConfigRecord>();
  private readonly erased = new Set<string>();
  private peopleKeys: JwksRecord | undefined;
  /** Revoked people's tokens: jti → the token's expiry (ms), after which the entry is useless. */
  private readonly revokedTokens = new Map<string, number>();
  private readonly listeners: ((record: ControlRecord) => void)[] = [];
  private readonly tombstoneListeners: ((key: string) => void)[] = [];

  constructor(readonly keyring: TenantKeyring) {}

  apply(key: string | null, value: unknown): void {
    if (value === null) {
      this.deleteByKey(key);
      if (key) for (const l of this.tombstoneListeners) l(key);
      return;
    }
    const record = ControlRecordSchema.parse(value);
    switch (record.kind) {
      case 'tenant':
        if (!this.erased.has(record.tenant)) this.tenantsById.set(record.tenant, record);
        break;
      case 'api_key':
        if (!this.erased.has(record.tenant)) this.apiKeys.set(record.keyId, record);
        break;
      case 'data_key':
        if (this.erased.has(record.tenant)) break;
        this.keyring.add(record);
        if (record.state === 'retired') this.keyring.retire(record.tenant, record.version);
        break;
      case 'alert_config':
        if (!this.erased.has(record.tenant)) this.alertConfigs.set(record.tenant, record);
        break;
      case 'api_key_mac':
        this.keyring.add({ tenant: API_KEY_MAC_LABEL, purpose: 'pseudonym', version: record.version, kekId: record.kekId, wrapped: record.wrapped, createdAt: record.createdAt });
        break;
      case 'tenant_erased':
        this.erase(record.tenant);
        break;
      case 'jwks':
        this.peopleKeys = record;
        break;
      case 'token_revoked':
        this.revokedTokens.set(record.jti, Date.parse(record.expiresAt));
        break;
    }
    for (const l of this.listeners) l(record);
  }

  onRecord(listener: (record: ControlRecord) => void): void {
    this.listeners.push(listener);
  }

  /** Called with the key of every tombstone (a deleted entity), after the view has dropped it. */
  onTombstone(listener: (key: string) => void): void {
    this.tombstoneListeners.push(listener);
  }

  /** The principal behind an API key, if the key exists, is not revoked, and carries the scope (admin carries every scope). */
  authenticate(secret: string | undefined, scope: ApiKeyScope): ApiKeyPrincipal | undefined {
    const principal = this.apiKey(secret);
    return principal && (principal.scopes.includes(scope) || principal.scopes.includes('admin')) ? principal : undefined;
  }

  /** The presented secret against the record's digest, by the digest's kind (HMAC, or SHA-256 for older keys). */
  private secretMatches(record: ApiKeyRecord, secret: string): boolean {
    if (record.hash !== 'hmac-sha256') return hashesEqual(record.secretHash, hashApiKey(secret));
    if (record.macVersion === undefined) return false;
    try {
      return hashesEqual(record.secretHash, this.keyring.hmac(API_KEY_MAC_LABEL, record.macVersion, secret));
    } catch {
      // The MAC key has not arrived (or does not unwrap): the key cannot be checked, so it is refused.
      return false;
    }
  }

  /** A key that exists, is not revoked, and belongs to an active tenant, whatever its scopes. */
  apiKey(secret: string | undefined): ApiKeyPrincipal | undefined {
    if (!secret) return undefined;
    const parsed = parseApiKey(secret);
    if (!parsed) return undefined;
    const record = this.apiKeys.get(parsed.keyId);
    if (!record || record.revokedAt || !this.secretMatches(record, secret)) return undefined;
    if (!this.isActive(record.tenant)) return undefined;
    return { tenant: record.tenant, keyId: record.keyId, scopes: record.scopes };
  }

  /** A tenant that exists and is not suspended (erased tenants are gone from the map). */
  isActive(tenant: string): boolean {
    return this.tenantsById.get(tenant)?.status === 'active';
  }

  /** Whether a person's token was revoked before its expiry (expired entries are dropped as they are met). */
  isTokenRevoked(jti: string, now = Date.now()): boolean {
    const expiresAt = this.revokedTokens.get(jti);
    if (expiresAt === undefined) return false;
    if (expiresAt < now) this.revokedTokens.delete(jti);
    return true;
  }

  /** The latest public keys for people's tokens, as control published them. */
  jwks(): JwksRecord | undefined {
    return this.peopleKeys;
  }

  tenant(id: string): TenantRecord | undefined {
    return this.tenantsById.get(id);
  }

  tenants(): TenantRecord[] {
    return [...this.tenantsById.values()];
  }

  alertConfig(tenant: string): AlertConfigRecord | undefined {
    return this.alertConfigs.get(tenant);
  }

  isErased(tenant: string): boolean {
    return this.erased.has(tenant);
  }

  private erase(tenant: string): void {
    this.erased.add(tenant);
    this.tenantsById.delete(tenant);
    this.alertConfigs.delete(tenant);
    for (const [id, k] of this.apiKeys) if (k.tenant === tenant) this.apiKeys.delete(id);
    this.keyring.destroy(tenant);
  }

  private deleteByKey(key: string | null): void {
    if (!key) return;
    const [kind, id] = key.split('/');
    if (kind === 'tenant') this.tenantsById.delete(id);
    else if (kind === 'api_key') this.apiKeys.delete(id);
    else if (kind === 'alert_config') this.alertConfigs.delete(id);
    else if (kind === 'jwks') this.peopleKeys = undefined;
    else if (kind === 'token_revoked') this.revokedTokens.delete(id);
  }
}
