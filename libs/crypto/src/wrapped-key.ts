import { randomBytes } from 'node:crypto';
import { KEY_BYTES, open, seal } from './aes-gcm';
import { CryptoConfigError, KeyIntegrityError } from './errors';
import { KeyEncryptionKey, kekBytes } from './key-encryption-key';

export type KeyPurpose = 'data' | 'pseudonym';
const PURPOSES: readonly KeyPurpose[] = ['data', 'pseudonym'];

/** What control publishes on the compacted control topic (JSON-serialisable). */
export interface WrappedKey {
  tenant: string;
  purpose: KeyPurpose;
  version: number;
  kekId: string;
  /** base64 of iv|tag|ciphertext of the 32-byte key, AES-256-GCM under the KEK, AAD = `${tenant}|${purpose}|${version}`. */
  wrapped: string;
  /** ISO timestamp. */
  createdAt: string;
}

export function isKeyVersion(version: unknown): version is number {
  // Versions also go into the record AAD as a uint32, so they must fit one.
  return Number.isSafeInteger(version) && (version as number) >= 1 && (version as number) <= 0xffff_ffff;
}

/**
 * Binds a wrapped key to its label, so a key cannot be relabelled as another tenant's,
 * another purpose or another version. Plain `|` joining is unambiguous here: purpose and
 * version never contain `|`, so the tenant is everything before the last two separators.
 */
function wrapAad(tenant: string, purpose: KeyPurpose, version: number): Buffer {
  return Buffer.from(`${tenant}|${purpose}|${version}`, 'utf8');
}

/** Generates a random 256-bit tenant key and wraps it under the KEK. The raw key is zeroised afterwards. */
export function createWrappedKey(
  kek: KeyEncryptionKey,
  tenant: string,
  purpose: KeyPurpose,
  version: number,
  now: Date = new Date(),
): WrappedKey {
  if (typeof tenant !== 'string' || tenant.length === 0) throw new CryptoConfigError('tenant must be a non-empty string');
  if (!PURPOSES.includes(purpose)) throw new CryptoConfigError(`purpose must be one of ${PURPOSES.join(', ')}`);
  if (!isKeyVersion(version)) throw new CryptoConfigError(`key version must be an integer in 1..2^32-1, got ${version}`);
  const key = randomBytes(KEY_BYTES);
  try {
    const wrapped = seal(kekBytes(kek), wrapAad(tenant, purpose, version), key).toString('base64');
    return { tenant, purpose, version, kekId: kek.id, wrapped, createdAt: now.toISOString() };
  } finally {
    key.fill(0);
  }
}

/**
 * Checks the shape (the value comes off a topic, so the static type is only a claim) and
 * unwraps. Throws KeyIntegrityError for anything that is not a genuine key for this label under this KEK.
 */
export function unwrapKey(kek: KeyEncryptionKey, key: WrappedKey): Buffer {
  const { tenant, purpose, version, kekId, wrapped } = (key ?? {}) as Partial<WrappedKey>;
  if (
    typeof tenant !== 'string' ||
    tenant.length === 0 ||
    !PURPOSES.includes(purpose as KeyPurpose) ||
    !isKeyVersion(version) ||
    typeof kekId !== 'string' ||
    typeof wrapped !== 'string'
  ) {
    throw new KeyIntegrityError('malformed wrapped key');
  }
  const label = `${purpose} key v${version} of tenant "${tenant}"`;
  if (kekId !== kek.id) {
    throw new KeyIntegrityError(`${label} is wrapped under KEK "${kekId}", this keyring holds KEK "${kek.id}"`);
  }
  const raw = open(kekBytes(kek), wrapAad(tenant, purpose as KeyPurpose, version), Buffer.from(wrapped, 'base64'));
  if (!raw || raw.length !== KEY_BYTES) {
    raw?.fill(0);
    throw new KeyIntegrityError(`${label} failed to unwrap: tampered, relabelled, or wrapped under a different KEK`);
  }
  return raw;
}

/**
 * The same key wrapped under `to` (KEK rotation): unwrapped under whichever of `from` or `to` its
 * `kekId` names, then sealed again with a fresh IV under `to`, keeping its label and createdAt. A key
 * already under `to` comes back unchanged. Throws KeyIntegrityError when no given KEK opens it.
 */
export function rewrapKey(key: WrappedKey, from: readonly KeyEncryptionKey[], to: KeyEncryptionKey): WrappedKey {
  if (key?.kekId === to.id) {
    unwrapKey(to, key).fill(0); // still checked: a row that does not open under `to` is not "done"
    return key;
  }
  const kek = from.find((k) => k.id === key?.kekId);
  if (!kek) throw new KeyIntegrityError(`${key?.purpose} key v${key?.version} of tenant "${key?.tenant}" is wrapped under KEK "${key?.kekId}", which is not among ${[to, ...from].map((k) => `"${k.id}"`).join(', ')}`);
  const raw = unwrapKey(kek, key);
  try {
    const wrapped = seal(kekBytes(to), wrapAad(key.tenant, key.purpose, key.version), raw).toString('base64');
    return { tenant: key.tenant, purpose: key.purpose, version: key.version, kekId: to.id, wrapped, createdAt: key.createdAt };
  } finally {
    raw.fill(0);
  }
}
