import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { KEY_BYTES } from './aes-gcm';
import { CryptoConfigError } from './errors';

const DEFAULT_KEK_ID = 'kek-1';
const REDACTED = '[REDACTED]';
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * Key bytes live in a module-private WeakMap rather than on the instance, so no enumeration,
 * serialisation or debugger-style inspection of a KeyEncryptionKey can reach them; only this
 * package (via kekBytes) can.
 */
const secrets = new WeakMap<KeyEncryptionKey, Buffer>();

/** The deployment's key-encryption key (from a secret/KMS). It only ever wraps tenant keys. */
export class KeyEncryptionKey {
  readonly id: string;

  private constructor(bytes: Buffer, id: string) {
    if (id.length === 0) throw new CryptoConfigError('KEK id must be a non-empty string');
    this.id = id;
    secrets.set(this, bytes);
  }

  /** Parses a base64 KEK (surrounding whitespace, e.g. a trailing newline from a mounted secret, is ignored). */
  static fromBase64(b64: string, id: string = DEFAULT_KEK_ID): KeyEncryptionKey {
    const text = typeof b64 === 'string' ? b64.trim() : '';
    // Buffer.from silently skips invalid characters, so validate first. The input is never echoed: it is the secret.
    if (!BASE64.test(text)) {
      throw new CryptoConfigError(`KEK "${id}" is not valid base64: expected ${KEY_BYTES} random bytes, base64-encoded`);
    }
    const bytes = Buffer.from(text, 'base64');
    if (bytes.length !== KEY_BYTES) {
      bytes.fill(0);
      throw new CryptoConfigError(
        `KEK "${id}" must be exactly ${KEY_BYTES} bytes (256 bits) once base64-decoded, got ${bytes.length} bytes`,
      );
    }
    return new KeyEncryptionKey(bytes, id);
  }

  /** A fresh random KEK (tests and local development; production loads one with fromBase64). */
  static generate(id: string = DEFAULT_KEK_ID): KeyEncryptionKey {
    return new KeyEncryptionKey(randomBytes(KEY_BYTES), id);
  }

  toJSON(): { id: string; key: string } {
    return { id: this.id, key: REDACTED };
  }

  toString(): string {
    return `KeyEncryptionKey(${this.id})`;
  }

  [inspect.custom](): string {
    return `KeyEncryptionKey { id: ${JSON.stringify(this.id)}, key: ${REDACTED} }`;
  }
}

/** Package-internal: not re-exported from index.ts. */
export function kekBytes(kek: KeyEncryptionKey): Buffer {
  const bytes = secrets.get(kek);
  if (!bytes) throw new CryptoConfigError('not a KeyEncryptionKey created by fromBase64() or generate()');
  return bytes;
}
