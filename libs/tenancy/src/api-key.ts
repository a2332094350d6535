import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * API keys look like `hr_<keyId>_<secret>`: the key id finds the record, the whole string's SHA-256
 * is what control stores and publishes. Keys are 256-bit random, so a fast hash is enough (no
 * password-style stretching needed), and the plaintext exists only in control's creation response.
 */
const FORMAT = /^hr_([a-z0-9]{8,32})_([A-Za-z0-9_-]{43})$/;

export function generateApiKey(): { keyId: string; secret: string; secretHash: string } {
  const keyId = randomBytes(8).toString('hex');
  const secret = `hr_${keyId}_${randomBytes(32).toString('base64url')}`;
  return { keyId, secret, secretHash: hashApiKey(secret) };
}

export function hashApiKey(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

export function parseApiKey(secret: string): { keyId: string } | undefined {
  const m = FORMAT.exec(secret);
  return m ? { keyId: m[1] } : undefined;
}

export function hashesEqual(aHex: string, bHex: string): boolean {
  const a = Buffer.from(aHex, 'hex');
  const b = Buffer.from(bHex, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Reads `Authorization: Bearer <key>` (or a bare key); undefined when absent or malformed. */
export function bearerToken(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  const m = /^Bearer\s+(\S+)$/i.exec(value.trim());
  return m ? m[1] : undefined;
}
