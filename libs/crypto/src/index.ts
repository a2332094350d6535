// Per-tenant envelope encryption: see docs/crypto.md.
export {
  CryptoError,
  CryptoConfigError,
  IntegrityError,
  KeyIntegrityError,
  KeyRetiredError,
  TenantDestroyedError,
  UnknownTenantKeyError,
} from './errors';
export type { CryptoErrorCode } from './errors';
export { KeyEncryptionKey } from './key-encryption-key';
export { createWrappedKey, rewrapKey } from './wrapped-key';
export type { KeyPurpose, WrappedKey } from './wrapped-key';
export type { RecordAad } from './record-aad';
export { TenantKeyring } from './tenant-keyring';
export { ControlRecordSigner, ControlRecordVerifier, generateControlSigningKeys, SIGNATURE_HEADER, SIGNED_AT_HEADER, SigningClock } from './control-signature';
export type { SignatureCheck, SignedRecordMeta } from './control-signature';
