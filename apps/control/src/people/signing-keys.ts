import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, type JWK, type KeyLike } from 'jose';
import type { PeopleJwk } from '@headroom/contracts';
import { createWrappedKey, TenantKeyring, type KeyEncryptionKey, type WrappedKey } from '@headroom/crypto';

/**
 * A token-signing key at rest: the private JWK sealed (AES-256-GCM) under its own random key, that
 * key wrapped by the deployment's KEK. The wrapping label is `jwt-signing/<kid>` (not a valid tenant
 * id, so it can never be mistaken for a tenant's key) and the AAD binds the kid, so a sealed key
 * cannot be moved to another row.
 */
export interface SealedSigningKey {
  kid: string;
  publicJwk: PeopleJwk;
  wrappedKey: WrappedKey;
  sealed: string;
}

const label = (kid: string) => `jwt-signing/${kid}`;
const aad = (kid: string) => ({ tenant: label(kid), topic: 'control.signing_keys', schema: 'ed25519-private-jwk' });

export async function generateSigningKey(kek: KeyEncryptionKey, now = new Date()): Promise<SealedSigningKey> {
  const kid = randomBytes(12).toString('base64url');
  const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const pub = await exportJWK(publicKey);
  const priv = await exportJWK(privateKey);
  const wrappedKey = createWrappedKey(kek, label(kid), 'data', 1, now);
  const keyring = new TenantKeyring(kek);
  keyring.add(wrappedKey);
  const { ciphertext } = keyring.encrypt(aad(kid), Buffer.from(JSON.stringify(priv), 'utf8'));
  return {
    kid,
    publicJwk: { kty: 'OKP', crv: 'Ed25519', x: String(pub.x), kid, alg: 'EdDSA', use: 'sig' },
    wrappedKey,
    sealed: ciphertext.toString('base64'),
  };
}

/** The private key back, for signing. Throws when the row was tampered with or the KEK is not the one it was sealed under. */
export async function unsealSigningKey(kek: KeyEncryptionKey, key: Pick<SealedSigningKey, 'kid' | 'wrappedKey' | 'sealed'>): Promise<KeyLike | Uint8Array> {
  const keyring = new TenantKeyring(kek);
  keyring.add(key.wrappedKey);
  const jwk = JSON.parse(keyring.decrypt(aad(key.kid), key.wrappedKey.version, Buffer.from(key.sealed, 'base64')).toString('utf8')) as JWK;
  return importJWK({ ...jwk, alg: 'EdDSA' }, 'EdDSA');
}
