import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** AES-256-GCM with the layout shared by wrapped keys and records: iv(12) | tag(16) | ciphertext. */
const ALGORITHM = 'aes-256-gcm';
export const KEY_BYTES = 32;
const IV_BYTES = 12; // 96-bit IV: the size GCM is designed for (no GHASH-derived IV)
const TAG_BYTES = 16; // full tag; decrypt pins the length so a truncated tag cannot be accepted

export function seal(key: Buffer, aad: Buffer, plaintext: Buffer): Buffer {
  // Random IVs are safe here: per-key message counts stay far below the ~2^32 birthday bound
  // because keys rotate (and every record gets a fresh IV, so nothing needs coordinating).
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), ct]);
}

/** Returns the plaintext, or undefined if the blob is malformed or fails authentication. */
export function open(key: Buffer, aad: Buffer, blob: Buffer): Buffer | undefined {
  if (blob.length < IV_BYTES + TAG_BYTES) return undefined;
  const decipher = createDecipheriv(ALGORITHM, key, blob.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(blob.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
  // GCM is a stream mode: update() returns all the plaintext, final() only verifies the tag.
  const plaintext = decipher.update(blob.subarray(IV_BYTES + TAG_BYTES));
  try {
    decipher.final();
  } catch {
    plaintext.fill(0); // never hand out (or leave lying around) unauthenticated plaintext
    return undefined;
  }
  return plaintext;
}
