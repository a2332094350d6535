import { generateKeyPairSync } from 'node:crypto';
import { ControlRecordSigner, ControlRecordVerifier, generateControlSigningKeys, SIGNATURE_HEADER, SIGNED_AT_HEADER, SigningClock } from './control-signature';
import { CryptoConfigError } from './errors';

const meta = { topic: 'headroom.control.v1', key: 'api_key/0123abcd', schema: 'control-record@1', codec: 'json' };
const value = Buffer.from(JSON.stringify({ kind: 'api_key', keyId: '0123abcd', tenant: 'label-a' }));

describe('control record signatures', () => {
  const control = generateControlSigningKeys();
  const signer = ControlRecordSigner.fromBase64(control.signingKey);
  const verifier = ControlRecordVerifier.fromBase64List(control.publicKey);

  it('verifies what control signed, with its signing time', () => {
    const headers = signer.sign(meta, value, 1_767_225_600_000);
    expect(verifier.check(meta, value, headers)).toEqual({ ok: true, signedAt: 1_767_225_600_000, keyId: signer.keyId });
    const tombstone = signer.sign(meta, null);
    expect(verifier.check(meta, null, tombstone).ok).toBe(true);
  });

  it('refuses a record with anything changed: value, key, topic, schema, codec, time, or a tombstone in place of a value', () => {
    const headers = signer.sign(meta, value, 1000);
    const changed: [string, ReturnType<ControlRecordVerifier['check']>][] = [
      ['value', verifier.check(meta, Buffer.from(value.toString().replace('label-a', 'label-b')), headers)],
      ['key', verifier.check({ ...meta, key: 'api_key/99999999' }, value, headers)],
      ['topic', verifier.check({ ...meta, topic: 'headroom.control.v2' }, value, headers)],
      ['schema', verifier.check({ ...meta, schema: 'control-record@2' }, value, headers)],
      ['codec', verifier.check({ ...meta, codec: 'json+gzip+aes-256-gcm' }, value, headers)],
      ['time', verifier.check(meta, value, { ...headers, [SIGNED_AT_HEADER]: '2000' })],
      ['tombstone', verifier.check(meta, null, headers)],
    ];
    for (const [what, check] of changed) expect({ what, code: check.ok ? 'accepted' : check.code }).toEqual({ what, code: 'control_bad_signature' });
  });

  it('refuses unsigned records and records signed by any other key, naming why', () => {
    expect(verifier.check(meta, value, {})).toMatchObject({ ok: false, code: 'control_unsigned' });
    const attacker = ControlRecordSigner.fromBase64(generateControlSigningKeys().signingKey);
    expect(verifier.check(meta, value, attacker.sign(meta, value))).toMatchObject({ ok: false, code: 'control_unknown_signer' });
    // The attacker's signature under control's key id still fails: the key id only picks the key.
    const forged = attacker.sign(meta, value);
    forged[SIGNATURE_HEADER] = `${signer.keyId}.${forged[SIGNATURE_HEADER].split('.')[1]}`;
    expect(verifier.check(meta, value, forged)).toMatchObject({ ok: false, code: 'control_bad_signature' });
    expect(verifier.check(meta, value, { [SIGNATURE_HEADER]: `${signer.keyId}.AAAA`, [SIGNED_AT_HEADER]: 'soon' })).toMatchObject({ ok: false, code: 'control_bad_signature' });
  });

  it('accepts either key while a new signing key is rolled out', () => {
    const next = generateControlSigningKeys();
    const both = ControlRecordVerifier.fromBase64List(`${control.publicKey}, ${next.publicKey}`);
    expect(both.check(meta, value, signer.sign(meta, value)).ok).toBe(true);
    expect(both.check(meta, value, ControlRecordSigner.fromBase64(next.signingKey).sign(meta, value)).ok).toBe(true);
    expect(both.keyIds()).toHaveLength(2);
  });

  it('refuses keys that are not Ed25519 or not keys, without echoing them', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    expect(() => ControlRecordSigner.fromBase64(rsa.privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64'))).toThrow(/must be Ed25519/);
    expect(() => ControlRecordVerifier.fromBase64List(rsa.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'))).toThrow(CryptoConfigError);
    expect(() => ControlRecordSigner.fromBase64('bm90IGEga2V5')).toThrow(/PKCS#8/);
    expect(() => ControlRecordVerifier.fromBase64List(' , ')).toThrow(/at least one/);
  });
});

describe('SigningClock', () => {
  it('never goes backwards: the wall clock stepping back, two signatures in one millisecond, and a floor from another replica', () => {
    let wall = 1_000;
    const clock = new SigningClock(() => wall);
    const signer = ControlRecordSigner.fromBase64(generateControlSigningKeys().signingKey, clock);
    const times = () => Number(signer.sign(meta, value)[SIGNED_AT_HEADER]);
    expect([times(), times()]).toEqual([1_000, 1_001]);
    wall = 500; // NTP steps the clock back
    expect(times()).toBe(1_002);
    clock.advanceTo(5_000); // another replica last signed at 5,000
    expect(times()).toBe(5_001);
    wall = 9_000;
    expect(times()).toBe(9_000);
    expect(clock.lastSigned()).toBe(9_000);
  });
});
