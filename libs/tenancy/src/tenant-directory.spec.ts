import { createWrappedKey, KeyEncryptionKey, TenantDestroyedError, TenantKeyring } from '@headroom/crypto';
import { controlKey, type ControlRecord } from '@headroom/contracts';
import { createHash } from 'node:crypto';
import { API_KEY_MAC_LABEL, generateApiKey, bearerToken } from './api-key';
import { TenantDirectory } from './tenant-directory';

const at = '2026-01-01T00:00:00Z';
function setup() {
  const kek = KeyEncryptionKey.generate();
  const dir = new TenantDirectory(new TenantKeyring(kek));
  const put = (r: ControlRecord) => dir.apply(controlKey(r), r);
  for (const tenant of ['label-a', 'label-b']) {
    put({ kind: 'tenant', tenant, displayName: tenant, status: 'active', shards: 1, locale: 'en', createdAt: at });
    const w = createWrappedKey(kek, tenant, 'data', 1);
    put({ kind: 'data_key', ...w, state: 'active' });
  }
  const ingestA = generateApiKey();
  put({ kind: 'api_key', keyId: ingestA.keyId, tenant: 'label-a', secretHash: ingestA.secretHash, scopes: ['ingest'], createdAt: at });
  return { dir, put, ingestA, kek };
}

describe('TenantDirectory', () => {
  it('authenticates a key to its own tenant, for its own scope only', () => {
    const { dir, ingestA } = setup();
    expect(dir.authenticate(ingestA.secret, 'ingest')).toMatchObject({ tenant: 'label-a', keyId: ingestA.keyId });
    expect(dir.authenticate(ingestA.secret, 'read')).toBeUndefined();
  });

  it('checks keys made with the platform MAC key by their HMAC, and refuses them until that key has arrived', () => {
    const { dir, put, kek } = setup();
    const key = generateApiKey();
    const mac = createWrappedKey(kek, API_KEY_MAC_LABEL, 'pseudonym', 1);
    const macRaw = new TenantKeyring(kek);
    macRaw.add(mac);
    const digest = macRaw.hmac(API_KEY_MAC_LABEL, 1, key.secret);
    // The digest on the topic is not the plain SHA-256: a copy of the topic cannot test a guess without the KEK.
    expect(digest).not.toBe(createHash('sha256').update(key.secret).digest('hex'));
    put({ kind: 'api_key', keyId: key.keyId, tenant: 'label-b', hash: 'hmac-sha256', macVersion: 1, secretHash: digest, scopes: ['read'], createdAt: at });
    expect(dir.authenticate(key.secret, 'read')).toBeUndefined();
    put({ kind: 'api_key_mac', version: 1, kekId: mac.kekId, wrapped: mac.wrapped, createdAt: mac.createdAt });
    expect(dir.authenticate(key.secret, 'read')).toMatchObject({ tenant: 'label-b', keyId: key.keyId });
    expect(dir.authenticate(key.secret.slice(0, -1) + (key.secret.endsWith('A') ? 'B' : 'A'), 'read')).toBeUndefined();
    // A record claiming a MAC version nobody has is refused, not checked some other way.
    put({ kind: 'api_key', keyId: key.keyId, tenant: 'label-b', hash: 'hmac-sha256', macVersion: 2, secretHash: digest, scopes: ['read'], createdAt: at });
    expect(dir.authenticate(key.secret, 'read')).toBeUndefined();
  });

  it('refuses a forged key that reuses a real key id, a malformed key, and no key', () => {
    const { dir, ingestA } = setup();
    const forged = ingestA.secret.slice(0, -4) + 'AAAA';
    expect(dir.authenticate(forged, 'ingest')).toBeUndefined();
    expect(dir.authenticate('label-a', 'ingest')).toBeUndefined();
    expect(dir.authenticate(undefined, 'ingest')).toBeUndefined();
  });

  it('honours revocation and tombstones', () => {
    const { dir, put, ingestA } = setup();
    put({ kind: 'api_key', keyId: ingestA.keyId, tenant: 'label-a', secretHash: ingestA.secretHash, scopes: ['ingest'], createdAt: at, revokedAt: at });
    expect(dir.authenticate(ingestA.secret, 'ingest')).toBeUndefined();
    const again = setup();
    again.dir.apply(`api_key/${again.ingestA.keyId}`, null);
    expect(again.dir.authenticate(again.ingestA.secret, 'ingest')).toBeUndefined();
  });

  it('shreds an erased tenant: keys gone, key refused, later records for it ignored', () => {
    const { dir, put, ingestA } = setup();
    const sealed = dir.keyring.encrypt({ tenant: 'label-a', topic: 't', schema: 's' }, Buffer.from('x'));
    put({ kind: 'tenant_erased', tenant: 'label-a', erasedAt: at });
    expect(dir.authenticate(ingestA.secret, 'ingest')).toBeUndefined();
    expect(dir.tenant('label-a')).toBeUndefined();
    expect(() => dir.keyring.decrypt({ tenant: 'label-a', topic: 't', schema: 's' }, sealed.keyVersion, sealed.ciphertext)).toThrow(TenantDestroyedError);
    put({ kind: 'tenant', tenant: 'label-a', displayName: 'back', status: 'active', shards: 1, locale: 'en', createdAt: at });
    expect(dir.tenant('label-a')).toBeUndefined();
    expect(dir.tenant('label-b')).toBeDefined();
  });

  it('reads bearer tokens', () => {
    expect(bearerToken('Bearer abc')).toBe('abc');
    expect(bearerToken('Basic abc')).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
  });
});
