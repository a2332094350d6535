import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { CryptoConfigError } from './errors';

/**
 * Control records are signed by control alone (Ed25519, node:crypto: nothing to add for it), so a
 * service trusts a tenant, an API key, a data key or an erasure only if control said so — not
 * whoever could produce to the control topic. The signature covers the topic, the record key, the
 * schema and codec headers, the issue time and a digest of the value (or the fact that it is a
 * tombstone), so none of them can be swapped. The issue time lets a reader refuse an older record
 * replayed over a newer one for the same key (an old API key record without its revocation).
 *
 * Keys are base64 DER: PKCS#8 for the private key (control's `CONTROL_SIGNING_KEY`), SPKI for the
 * public one (every service's `HEADROOM_CONTROL_PUBLIC_KEY`, a comma-separated list while a new
 * signing key is rolled out). The key id in the signature header picks the public key.
 */

export const SIGNATURE_HEADER = 'hr-sig';
export const SIGNED_AT_HEADER = 'hr-sig-at';

/** What the signature binds besides the value. */
export interface SignedRecordMeta {
  topic: string;
  key: string | null;
  /** `hr-schema` and `hr-codec`: how the value is to be read. */
  schema: string | undefined;
  codec: string | undefined;
}

export type SignatureCheck =
  | { ok: true; signedAt: number; keyId: string }
  | { ok: false; code: 'control_unsigned' | 'control_unknown_signer' | 'control_bad_signature'; reason: string };

const DOMAIN = 'headroom-control-record-v1';

function signingInput(meta: SignedRecordMeta, signedAt: number, value: Buffer | null): Buffer {
  const digest = value === null ? 'tombstone' : createHash('sha256').update(value).digest('hex');
  // NUL-separated: no field can contain a NUL (topic names, keys and header values are printable).
  return Buffer.from([DOMAIN, meta.topic, meta.key ?? '', meta.schema ?? '', meta.codec ?? '', String(signedAt), digest].join('\0'), 'utf8');
}

function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

/** A fresh key pair, base64 DER (PKCS#8 / SPKI): for `npm run keys`, the local stack and tests. */
export function generateControlSigningKeys(): { signingKey: string; publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    signingKey: privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64'),
    publicKey: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
  };
}

export class ControlRecordSigner {
  readonly keyId: string;

  private constructor(
    private readonly privateKey: KeyObject,
    readonly clock?: SigningClock,
  ) {
    this.keyId = keyIdOf(createPublicKey(privateKey));
  }

  /** `clock`: where signing times come from (control's publisher passes its SigningClock). */
  static fromBase64(pkcs8: string, clock?: SigningClock): ControlRecordSigner {
    let key: KeyObject;
    try {
      key = createPrivateKey({ key: Buffer.from(pkcs8.trim(), 'base64'), format: 'der', type: 'pkcs8' });
    } catch {
      throw new CryptoConfigError('the control signing key must be base64 of a PKCS#8 DER Ed25519 private key');
    }
    if (key.asymmetricKeyType !== 'ed25519') throw new CryptoConfigError(`the control signing key must be Ed25519, got ${key.asymmetricKeyType}`);
    return new ControlRecordSigner(key, clock);
  }

  /** The public half, base64 SPKI DER (what services are given). */
  publicKeyBase64(): string {
    return createPublicKey(this.privateKey).export({ type: 'spki', format: 'der' }).toString('base64');
  }

  /** Headers to add to the record, signed at `signedAt` (by default the signer's clock's next time). */
  sign(meta: SignedRecordMeta, value: Buffer | null, signedAt = this.clock?.next() ?? Date.now()): Record<string, string> {
    const signature = sign(null, signingInput(meta, signedAt, value), this.privateKey).toString('base64url');
    return { [SIGNATURE_HEADER]: `${this.keyId}.${signature}`, [SIGNED_AT_HEADER]: String(signedAt) };
  }
}

/**
 * Signing times that never go backwards, even across control replicas whose clocks disagree: the
 * services refuse a record signed before the one they already applied for its key (a replay), so a
 * later change signed by a replica whose clock is behind would be refused as one. Each time is at
 * least one millisecond after the last one signed here, and after any floor the caller sets (the
 * outbox relay sets the last time any replica signed, kept in PostgreSQL under its lock).
 */
export class SigningClock {
  private last = 0;

  constructor(private readonly now: () => number = Date.now) {}

  next(): number {
    this.last = Math.max(this.now(), this.last + 1);
    return this.last;
  }

  /** Signs after `t` from now on. */
  advanceTo(t: number): void {
    if (t > this.last) this.last = t;
  }

  /** The last time signed (0 before the first). */
  lastSigned(): number {
    return this.last;
  }
}

export class ControlRecordVerifier {
  private readonly keys = new Map<string, KeyObject>();

  private constructor(publicKeys: KeyObject[]) {
    for (const k of publicKeys) this.keys.set(keyIdOf(k), k);
  }

  /** One base64 SPKI key, or several separated by commas (while control's signing key is rotated). */
  static fromBase64List(list: string): ControlRecordVerifier {
    const parts = list
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    if (parts.length === 0) throw new CryptoConfigError('at least one control public key is required');
    const keys = parts.map((p, i) => {
      let key: KeyObject;
      try {
        key = createPublicKey({ key: Buffer.from(p, 'base64'), format: 'der', type: 'spki' });
      } catch {
        throw new CryptoConfigError(`control public key ${i + 1} must be base64 of an SPKI DER Ed25519 public key`);
      }
      if (key.asymmetricKeyType !== 'ed25519') throw new CryptoConfigError(`control public key ${i + 1} must be Ed25519, got ${key.asymmetricKeyType}`);
      return key;
    });
    return new ControlRecordVerifier(keys);
  }

  keyIds(): string[] {
    return [...this.keys.keys()];
  }

  check(meta: SignedRecordMeta, value: Buffer | null, headers: Record<string, string | undefined>): SignatureCheck {
    const header = headers[SIGNATURE_HEADER];
    const at = headers[SIGNED_AT_HEADER];
    if (!header || !at) return { ok: false, code: 'control_unsigned', reason: `no ${SIGNATURE_HEADER}/${SIGNED_AT_HEADER} header: control records must be signed by control` };
    const dot = header.indexOf('.');
    const keyId = dot > 0 ? header.slice(0, dot) : '';
    const key = this.keys.get(keyId);
    if (!key) return { ok: false, code: 'control_unknown_signer', reason: `signed by key ${keyId.slice(0, 16) || '(none)'}, which is not one of this service's control public keys` };
    const signedAt = Number(at);
    if (!/^\d{1,16}$/.test(at) || !Number.isSafeInteger(signedAt)) return { ok: false, code: 'control_bad_signature', reason: `${SIGNED_AT_HEADER} is not a time in ms` };
    let valid = false;
    try {
      valid = verify(null, signingInput(meta, signedAt, value), key, Buffer.from(header.slice(dot + 1), 'base64url'));
    } catch {
      valid = false;
    }
    if (!valid) return { ok: false, code: 'control_bad_signature', reason: `the signature does not match the record (topic, key, headers or value changed, or forged)` };
    return { ok: true, signedAt, keyId };
  }
}
