import { CryptoConfigError } from './errors';
import { encodeRecordAad } from './record-aad';

describe('encodeRecordAad', () => {
  it('is deterministic', () => {
    const aad = { tenant: 'acme', topic: 'metrics', schema: 'metric.v1' };
    expect(encodeRecordAad(aad, 3).equals(encodeRecordAad({ ...aad }, 3))).toBe(true);
  });

  it('is unambiguous where naive joining collides', () => {
    const a = encodeRecordAad({ tenant: 'a|b', topic: 'c', schema: 's' }, 1);
    const b = encodeRecordAad({ tenant: 'a', topic: 'b|c', schema: 's' }, 1);
    const c = encodeRecordAad({ tenant: 'a', topic: 'b', schema: 'c' }, 1);
    const d = encodeRecordAad({ tenant: 'ab', topic: '', schema: 'c' }, 1);
    expect(new Set([a, b, c, d].map((x) => x.toString('hex'))).size).toBe(4);
  });

  it('binds the key version', () => {
    const aad = { tenant: 't', topic: 'x', schema: 'y' };
    expect(encodeRecordAad(aad, 1).equals(encodeRecordAad(aad, 2))).toBe(false);
  });

  it('refuses lone surrogates, which UTF-8 would collapse into the same bytes', () => {
    expect(() => encodeRecordAad({ tenant: '\uD800', topic: 'x', schema: 'y' }, 1)).toThrow(CryptoConfigError);
    expect(() => encodeRecordAad({ tenant: '\u{1F600}', topic: 'x', schema: 'y' }, 1)).not.toThrow();
  });
});
