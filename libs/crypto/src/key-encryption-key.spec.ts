import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { CryptoConfigError } from './errors';
import { KeyEncryptionKey, kekBytes } from './key-encryption-key';

describe('KeyEncryptionKey', () => {
  const b64 = randomBytes(32).toString('base64');

  it('loads 32 bytes of base64, defaulting the id to kek-1 and ignoring surrounding whitespace', () => {
    expect(KeyEncryptionKey.fromBase64(b64).id).toBe('kek-1');
    expect(KeyEncryptionKey.fromBase64(`${b64}\n`, 'kek-7').id).toBe('kek-7');
  });

  it.each([
    ['too short', randomBytes(16).toString('base64')],
    ['too long', randomBytes(33).toString('base64')],
    ['not base64', '!'.repeat(44)],
    ['empty', ''],
  ])('rejects a KEK that is %s with CryptoConfigError, without echoing it', (_label, input) => {
    let thrown: unknown;
    try {
      KeyEncryptionKey.fromBase64(input);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(CryptoConfigError);
    expect((thrown as CryptoConfigError).code).toBe('config');
    expect((thrown as Error).message).toMatch(/KEK "kek-1"/);
    if (input) expect((thrown as Error).message).not.toContain(input);
  });

  it('never exposes key bytes through JSON.stringify, util.inspect, String or Object.keys', () => {
    const kek = KeyEncryptionKey.fromBase64(b64, 'kek-x');
    const hex = Buffer.from(b64, 'base64').toString('hex');
    const renderings = [JSON.stringify(kek), JSON.stringify({ nested: kek }), inspect(kek), inspect({ kek }), String(kek)];
    for (const shown of renderings) {
      expect(shown).toContain('kek-x');
      expect(shown).not.toContain(b64);
      expect(shown).not.toContain(hex);
    }
    expect(Object.keys(kek)).toEqual(['id']);
  });

  it('generate() makes distinct random 32-byte keys', () => {
    const a = kekBytes(KeyEncryptionKey.generate());
    const b = kekBytes(KeyEncryptionKey.generate());
    expect(a).toHaveLength(32);
    expect(a.equals(b)).toBe(false);
  });
});
