import { inspect } from 'node:util';
import {
  CryptoError,
  IntegrityError,
  KeyEncryptionKey,
  KeyIntegrityError,
  KeyRetiredError,
  RecordAad,
  TenantDestroyedError,
  TenantKeyring,
  UnknownTenantKeyError,
  WrappedKey,
  createWrappedKey,
} from './index';

const kek = KeyEncryptionKey.generate();
const A: RecordAad = { tenant: 'acme', topic: 'metrics.raw', schema: 'metric.v1' };
const B: RecordAad = { ...A, tenant: 'globex' };
const payload = Buffer.from('{"name":"cpu","value":0.42}');

/** A keyring holding data v1 + pseudonym v1 for acme and globex. */
function keyring(): TenantKeyring {
  const ring = new TenantKeyring(kek);
  for (const tenant of [A.tenant, B.tenant]) {
    ring.add(createWrappedKey(kek, tenant, 'data', 1));
    ring.add(createWrappedKey(kek, tenant, 'pseudonym', 1));
  }
  return ring;
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

function flipByte(buf: Buffer, index: number): Buffer {
  const copy = Buffer.from(buf);
  copy[index] ^= 0x01;
  return copy;
}

describe('createWrappedKey', () => {
  it('produces a JSON-serialisable record with the label, KEK id and ISO timestamp, never the raw key', () => {
    const now = new Date('2025-01-02T03:04:05.000Z');
    const key = createWrappedKey(kek, 'acme', 'data', 2, now);
    expect(JSON.parse(JSON.stringify(key))).toEqual(key);
    expect(key).toMatchObject({ tenant: 'acme', purpose: 'data', version: 2, kekId: 'kek-1', createdAt: now.toISOString() });
    expect(Buffer.from(key.wrapped, 'base64')).toHaveLength(12 + 16 + 32); // iv | tag | 32-byte key
    expect(createWrappedKey(kek, 'acme', 'data', 2).wrapped).not.toBe(key.wrapped); // fresh random key + IV
  });
});

describe('TenantKeyring', () => {
  it('round-trips a record and reports the key version used', () => {
    const ring = keyring();
    const { keyVersion, ciphertext } = ring.encrypt(A, payload);
    expect(keyVersion).toBe(1);
    expect(ciphertext.includes(payload)).toBe(false);
    expect(ring.decrypt(A, keyVersion, ciphertext)).toEqual(payload);
    expect(ring.decrypt(A, 1, ring.encrypt(A, Buffer.alloc(0)).ciphertext)).toEqual(Buffer.alloc(0));
  });

  it('uses a fresh IV per record', () => {
    const ring = keyring();
    expect(ring.encrypt(A, payload).ciphertext.equals(ring.encrypt(A, payload).ciphertext)).toBe(false);
  });

  it.each([
    ['IV', 0],
    ['tag', 12],
    ['ciphertext', 28],
  ])('rejects a tampered %s byte with IntegrityError', (_part, index) => {
    const ring = keyring();
    const { keyVersion, ciphertext } = ring.encrypt(A, payload);
    const err = thrown(() => ring.decrypt(A, keyVersion, flipByte(ciphertext, index)));
    expect(err).toBeInstanceOf(IntegrityError);
    expect((err as CryptoError).code).toBe('integrity');
  });

  it('rejects truncated ciphertext with IntegrityError', () => {
    const ring = keyring();
    const { ciphertext } = ring.encrypt(A, payload);
    expect(() => ring.decrypt(A, 1, ciphertext.subarray(0, 20))).toThrow(IntegrityError);
    expect(() => ring.decrypt(A, 1, ciphertext.subarray(0, ciphertext.length - 1))).toThrow(IntegrityError);
  });

  it('rejects a record moved to another tenant (B’s AAD, hence B’s key)', () => {
    const ring = keyring();
    const { ciphertext } = ring.encrypt(A, payload);
    expect(() => ring.decrypt(B, 1, ciphertext)).toThrow(IntegrityError);
  });

  it('cannot be made to decrypt A’s records with B’s key: relabelling B’s wrapped key as A’s is refused', () => {
    // The key label (tenant, purpose, version) is the AAD of the wrap, so a key cannot change owner.
    const globexKey = createWrappedKey(kek, B.tenant, 'data', 1);
    const ring = new TenantKeyring(kek);
    expect(() => ring.add({ ...globexKey, tenant: A.tenant })).toThrow(KeyIntegrityError);
  });

  it.each([
    ['topic', { ...A, topic: 'metrics.aggregated' }],
    ['schema', { ...A, schema: 'metric.v2' }],
    ['field boundary', { ...A, tenant: 'acme|metrics.raw', topic: '' }],
  ])('rejects a record moved to another %s', (_what, moved) => {
    const ring = keyring();
    if (!ring.hasTenant(moved.tenant)) ring.add(createWrappedKey(kek, moved.tenant, 'data', 1));
    const { ciphertext } = ring.encrypt(A, payload);
    expect(() => ring.decrypt(moved, 1, ciphertext)).toThrow(IntegrityError);
  });

  it('wrong key version: known version → IntegrityError, unknown → UnknownTenantKeyError, impossible → IntegrityError', () => {
    const ring = keyring();
    const { ciphertext } = ring.encrypt(A, payload); // v1
    ring.add(createWrappedKey(kek, A.tenant, 'data', 2));
    expect(() => ring.decrypt(A, 2, ciphertext)).toThrow(IntegrityError);
    const unknown = thrown(() => ring.decrypt(A, 3, ciphertext));
    expect(unknown).toBeInstanceOf(UnknownTenantKeyError);
    expect((unknown as CryptoError).code).toBe('unknown_key');
    for (const bad of [0, -1, 1.5, Number.NaN, 2 ** 32]) {
      expect(() => ring.decrypt(A, bad, ciphertext)).toThrow(IntegrityError);
    }
  });

  it('unknown tenant → UnknownTenantKeyError (retriable) for encrypt, decrypt and pseudonymise', () => {
    const ring = new TenantKeyring(kek);
    expect(ring.hasTenant('initech')).toBe(false);
    expect(ring.currentVersion('initech')).toBeUndefined();
    const aad = { ...A, tenant: 'initech' };
    expect(() => ring.encrypt(aad, payload)).toThrow(UnknownTenantKeyError);
    expect(() => ring.decrypt(aad, 1, Buffer.alloc(40))).toThrow(UnknownTenantKeyError);
    expect(() => ring.pseudonymise('initech', 'alice')).toThrow(UnknownTenantKeyError);
    // A pseudonym key alone is not a data key.
    ring.add(createWrappedKey(kek, 'initech', 'pseudonym', 1));
    expect(ring.hasTenant('initech')).toBe(true);
    expect(() => ring.encrypt(aad, payload)).toThrow(UnknownTenantKeyError);
  });

  it('rotation: encrypt moves to v2, v1 records still decrypt, retiring v1 → KeyRetiredError', () => {
    const ring = keyring();
    const old = ring.encrypt(A, payload);
    ring.add(createWrappedKey(kek, A.tenant, 'data', 2));
    expect(ring.currentVersion(A.tenant)).toBe(2);
    const fresh = ring.encrypt(A, payload);
    expect(fresh.keyVersion).toBe(2);
    expect(ring.decrypt(A, 1, old.ciphertext)).toEqual(payload);

    ring.retire(A.tenant, 1);
    const err = thrown(() => ring.decrypt(A, 1, old.ciphertext));
    expect(err).toBeInstanceOf(KeyRetiredError);
    expect((err as CryptoError).code).toBe('key_retired');
    expect(ring.decrypt(A, 2, fresh.ciphertext)).toEqual(payload);
    expect(ring.decrypt(B, 1, ring.encrypt(B, payload).ciphertext)).toEqual(payload); // other tenants untouched

    // A replayed add() of the retired version does not resurrect it.
    ring.add(createWrappedKey(kek, A.tenant, 'data', 1));
    expect(() => ring.decrypt(A, 1, old.ciphertext)).toThrow(KeyRetiredError);
  });

  it('retiring the current version stops encrypt instead of falling back to an older key', () => {
    const ring = keyring();
    ring.add(createWrappedKey(kek, A.tenant, 'data', 2));
    ring.retire(A.tenant, 2);
    expect(ring.currentVersion(A.tenant)).toBe(2);
    expect(() => ring.encrypt(A, payload)).toThrow(KeyRetiredError);
    ring.add(createWrappedKey(kek, A.tenant, 'data', 3));
    expect(ring.encrypt(A, payload).keyVersion).toBe(3);
  });

  it('add() is idempotent for the same key and refuses a different key under the same version', () => {
    const ring = new TenantKeyring(kek);
    const key = createWrappedKey(kek, A.tenant, 'data', 1);
    ring.add(key);
    const { ciphertext } = ring.encrypt(A, payload);
    ring.add(key);
    ring.add(JSON.parse(JSON.stringify(key)) as WrappedKey); // as it arrives off the topic
    expect(ring.decrypt(A, 1, ciphertext)).toEqual(payload);
    expect(() => ring.add(createWrappedKey(kek, A.tenant, 'data', 1))).toThrow(KeyIntegrityError);
    expect(ring.decrypt(A, 1, ciphertext)).toEqual(payload); // the original key is kept
  });

  it('shredding: destroy → TenantDestroyedError everywhere, add() refused, key bytes zeroised', () => {
    const ring = keyring();
    const { ciphertext } = ring.encrypt(A, payload);
    const raw = (ring as unknown as { tenants: Map<string, { keys: { data: Map<number, Buffer> } }> }).tenants
      .get(A.tenant)!
      .keys.data.get(1)!;

    ring.destroy(A.tenant);
    expect(raw.equals(Buffer.alloc(32))).toBe(true);
    expect(ring.hasTenant(A.tenant)).toBe(false);
    expect(ring.currentVersion(A.tenant)).toBeUndefined();
    const err = thrown(() => ring.decrypt(A, 1, ciphertext));
    expect(err).toBeInstanceOf(TenantDestroyedError);
    expect((err as CryptoError).code).toBe('tenant_destroyed');
    expect(() => ring.encrypt(A, payload)).toThrow(TenantDestroyedError);
    expect(() => ring.pseudonymise(A.tenant, 'alice')).toThrow(TenantDestroyedError);
    expect(() => ring.add(createWrappedKey(kek, A.tenant, 'data', 2))).toThrow(TenantDestroyedError);
    expect(ring.hasTenant(A.tenant)).toBe(false);
    expect(ring.decrypt(B, 1, ring.encrypt(B, payload).ciphertext)).toEqual(payload); // B untouched
  });

  it('destroy of a tenant never seen still refuses its keys later', () => {
    const ring = new TenantKeyring(kek);
    ring.destroy('initech');
    expect(() => ring.add(createWrappedKey(kek, 'initech', 'data', 1))).toThrow(TenantDestroyedError);
  });

  describe('wrapped key integrity', () => {
    const key = createWrappedKey(kek, A.tenant, 'data', 1);
    const wrappedBytes = Buffer.from(key.wrapped, 'base64');

    it.each<[string, WrappedKey]>([
      ['a flipped ciphertext byte', { ...key, wrapped: flipByte(wrappedBytes, 40).toString('base64') }],
      ['a flipped tag byte', { ...key, wrapped: flipByte(wrappedBytes, 12).toString('base64') }],
      ['a truncated blob', { ...key, wrapped: wrappedBytes.subarray(0, 50).toString('base64') }],
      ['a relabelled tenant', { ...key, tenant: B.tenant }],
      ['a relabelled purpose', { ...key, purpose: 'pseudonym' }],
      ['a relabelled version', { ...key, version: 2 }],
      ['a different KEK id', { ...key, kekId: 'kek-2' }],
      ['a wrong shape', { ...key, version: '1' } as unknown as WrappedKey],
    ])('rejects %s with KeyIntegrityError', (_what, tampered) => {
      const ring = new TenantKeyring(kek);
      const err = thrown(() => ring.add(tampered));
      expect(err).toBeInstanceOf(KeyIntegrityError);
      expect((err as CryptoError).code).toBe('key_integrity');
      expect(ring.hasTenant(tampered.tenant)).toBe(false);
    });

    it('rejects a key wrapped under another KEK, even one with the same id', () => {
      const ring = new TenantKeyring(kek);
      const other = KeyEncryptionKey.generate(kek.id);
      expect(() => ring.add(createWrappedKey(other, A.tenant, 'data', 1))).toThrow(KeyIntegrityError);
      expect(() => ring.add(createWrappedKey(KeyEncryptionKey.generate('kek-2'), A.tenant, 'data', 1))).toThrow(
        KeyIntegrityError,
      );
    });
  });

  describe('pseudonymise', () => {
    it('is stable per tenant, differs across tenants and users, and does not reveal the id', () => {
      const ring = keyring();
      const p = ring.pseudonymise(A.tenant, 'alice@example.com');
      expect(p).toMatch(/^u_[A-Za-z0-9_-]{43}$/);
      expect(p).not.toContain('alice');
      expect(ring.pseudonymise(A.tenant, 'alice@example.com')).toBe(p);
      expect(ring.pseudonymise(B.tenant, 'alice@example.com')).not.toBe(p);
      expect(ring.pseudonymise(A.tenant, 'bob@example.com')).not.toBe(p);
    });

    it('is reproducible by another service holding the same wrapped key', () => {
      const key = createWrappedKey(kek, A.tenant, 'pseudonym', 1);
      const [r1, r2] = [new TenantKeyring(kek), new TenantKeyring(kek)];
      r1.add(key);
      r2.add(key);
      expect(r1.pseudonymise(A.tenant, 'alice')).toBe(r2.pseudonymise(A.tenant, 'alice'));
    });

    it('uses the highest pseudonym version and changes nothing about the data key', () => {
      const ring = keyring();
      const record = ring.encrypt(A, payload);
      const v1 = ring.pseudonymise(A.tenant, 'alice');
      ring.add(createWrappedKey(kek, A.tenant, 'pseudonym', 2));
      expect(ring.pseudonymise(A.tenant, 'alice')).not.toBe(v1);
      expect(ring.currentVersion(A.tenant)).toBe(1);
      expect(ring.encrypt(A, payload).keyVersion).toBe(1);
      expect(ring.decrypt(A, 1, record.ciphertext)).toEqual(payload);
      ring.retire(A.tenant, 1); // retiring data v1 leaves pseudonyms alone
      expect(ring.pseudonymise(A.tenant, 'alice')).toBe(ring.pseudonymise(A.tenant, 'alice'));
    });
  });

  it('never exposes keys through JSON.stringify or util.inspect', () => {
    const ring = keyring();
    for (const shown of [JSON.stringify(ring), inspect(ring, { depth: 10, showHidden: true })]) {
      expect(shown).not.toMatch(/Buffer|[0-9a-f]{2} [0-9a-f]{2} [0-9a-f]{2}/);
    }
    expect(inspect(ring)).toContain('tenants: 2');
  });
});
