/**
 * Errors thrown by @headroom/crypto. Callers branch on `code`, not on messages:
 * only 'unknown_key' is retriable (the key may simply not have arrived on the control
 * topic yet); everything else is permanent. Messages never contain key material.
 */
export type CryptoErrorCode =
  | 'unknown_key'
  | 'tenant_destroyed'
  | 'key_retired'
  | 'integrity'
  | 'key_integrity'
  | 'config';

export abstract class CryptoError extends Error {
  abstract readonly code: CryptoErrorCode;

  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Tenant or key version not (yet) known. RETRIABLE: the key may still be on its way. */
export class UnknownTenantKeyError extends CryptoError {
  readonly code = 'unknown_key';
}

/** The tenant was crypto-shredded. Permanent. */
export class TenantDestroyedError extends CryptoError {
  readonly code = 'tenant_destroyed';
}

/** The key version was retired and no longer decrypts. Permanent. */
export class KeyRetiredError extends CryptoError {
  readonly code = 'key_retired';
}

/** A record failed authentication: tampered, moved to another tenant/topic/schema, or wrong version. Permanent. */
export class IntegrityError extends CryptoError {
  readonly code = 'integrity';
}

/** A wrapped key failed to unwrap: tampered, relabelled, malformed, or wrapped under another KEK. */
export class KeyIntegrityError extends CryptoError {
  readonly code = 'key_integrity';
}

/** Bad configuration or arguments (e.g. a KEK that is not 32 bytes of base64). */
export class CryptoConfigError extends CryptoError {
  readonly code = 'config';
}
