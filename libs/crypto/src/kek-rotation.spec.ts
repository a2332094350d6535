import { CryptoConfigError, KeyEncryptionKey, KeyIntegrityError, RecordAad, TenantKeyring, createWrappedKey, rewrapKey } from './index';

const oldKek = KeyEncryptionKey.generate('kek-1');
const newKek = KeyEncryptionKey.generate('kek-2');
const aad: RecordAad = { tenant: 'acme', topic: 'headroom.telemetry.v1', schema: 'telemetry-batch@1' };
const payload = Buffer.from('{"cpu":0.5}');

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('TenantKeyring with a previous KEK (KEK rotation)', () => {
  it('unwraps each key under the KEK its kekId names, and encrypts with the highest version whichever KEK wrapped it', () => {
    const ring = new TenantKeyring(newKek, [oldKek]);
    ring.add(createWrappedKey(oldKek, 'acme', 'data', 1));
    ring.add(createWrappedKey(newKek, 'acme', 'data', 2));
    ring.add(createWrappedKey(oldKek, 'globex', 'data', 1));
    expect(ring.hasTenant('globex')).toBe(true);
    const { keyVersion, ciphertext } = ring.encrypt(aad, payload);
    expect(keyVersion).toBe(2);
    expect(ring.decrypt(aad, 2, ciphertext)).toEqual(payload);
  });

  it('without the previous KEK, a key still under it is refused with the KEK it needs named', () => {
    const ring = new TenantKeyring(newKek);
    const err = thrown(() => ring.add(createWrappedKey(oldKek, 'acme', 'data', 1)));
    expect(err).toBeInstanceOf(KeyIntegrityError);
    expect((err as Error).message).toContain('"kek-1"');
  });

  it('refuses two KEKs with one id (the previous one would shadow or be shadowed silently)', () => {
    expect(() => new TenantKeyring(newKek, [KeyEncryptionKey.generate('kek-2')])).toThrow(CryptoConfigError);
  });

  it('a key wrapped under kek-1 but labelled kek-2 does not unwrap (the id picks the KEK, the tag decides)', () => {
    const ring = new TenantKeyring(newKek, [oldKek]);
    const forged = { ...createWrappedKey(oldKek, 'acme', 'data', 1), kekId: 'kek-2' };
    expect(thrown(() => ring.add(forged))).toBeInstanceOf(KeyIntegrityError);
  });
});

describe('rewrapKey', () => {
  it('re-wraps the same key under the new KEK: records sealed before the rewrap still open with only the new KEK', () => {
    const original = createWrappedKey(oldKek, 'acme', 'data', 1, new Date('2025-01-01T00:00:00Z'));
    const before = new TenantKeyring(oldKek);
    before.add(original);
    const sealed = before.encrypt(aad, payload);

    const rewrapped = rewrapKey(original, [oldKek], newKek);
    expect(rewrapped).toMatchObject({ tenant: 'acme', purpose: 'data', version: 1, kekId: 'kek-2', createdAt: original.createdAt });
    expect(rewrapped.wrapped).not.toBe(original.wrapped);

    const after = new TenantKeyring(newKek); // no previous KEK at all
    after.add(rewrapped);
    expect(after.decrypt(aad, sealed.keyVersion, sealed.ciphertext)).toEqual(payload);
  });

  it('leaves a key already under the new KEK as it is, and refuses one no given KEK opens', () => {
    const current = createWrappedKey(newKek, 'acme', 'data', 3);
    expect(rewrapKey(current, [oldKek], newKek)).toBe(current);
    const stranger = createWrappedKey(KeyEncryptionKey.generate('kek-0'), 'acme', 'data', 1);
    expect(thrown(() => rewrapKey(stranger, [oldKek], newKek))).toBeInstanceOf(KeyIntegrityError);
    // Same id as the new KEK, but not wrapped by it: not silently accepted as done.
    const impostor = { ...createWrappedKey(oldKek, 'acme', 'data', 1), kekId: 'kek-2' };
    expect(thrown(() => rewrapKey(impostor, [oldKek], newKek))).toBeInstanceOf(KeyIntegrityError);
  });
});
