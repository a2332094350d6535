import { createLocalJWKSet, jwtVerify, SignJWT } from 'jose';
import { KeyEncryptionKey } from '@headroom/crypto';
import { JwksRecordSchema } from '@headroom/contracts';
import { generateSigningKey, unsealSigningKey } from './signing-keys';

describe('token-signing keys at rest', () => {
  it('unseals to a private key whose tokens verify with the published public key, and the row holds no plaintext key', async () => {
    const kek = KeyEncryptionKey.generate();
    const key = await generateSigningKey(kek);
    expect(JwksRecordSchema.safeParse({ kind: 'jwks', issuer: 'i', keys: [key.publicJwk], updatedAt: '2026-01-01T00:00:00Z' }).success).toBe(true);
    expect(JSON.stringify(key)).not.toMatch(/"d"/);
    const token = await new SignJWT({ role: 'viewer' }).setProtectedHeader({ alg: 'EdDSA', kid: key.kid }).setExpirationTime('5m').sign(await unsealSigningKey(kek, key));
    const { payload } = await jwtVerify(token, createLocalJWKSet({ keys: [key.publicJwk] }));
    expect(payload['role']).toBe('viewer');
  });

  it('does not unseal under another KEK, nor when the sealed key is moved to another kid', async () => {
    const kek = KeyEncryptionKey.generate();
    const a = await generateSigningKey(kek);
    const b = await generateSigningKey(kek);
    await expect(unsealSigningKey(KeyEncryptionKey.generate(), a)).rejects.toThrow();
    await expect(unsealSigningKey(kek, { ...b, sealed: a.sealed })).rejects.toThrow();
  });
});
