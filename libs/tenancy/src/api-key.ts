import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * API keys look like `hr_<keyId>_<secret>`: the key id finds the record; what control stores and
 * publishes is an HMAC-SHA256 of the whole string under the platform's API-key MAC key (see
 * `api_key_mac` in the control-record schema; keys made before it carry a plain SHA-256, still
 * verified). The plaintext exists only in control's creation response.
 *
 * Why an HMAC with a server-side key rather than a slow hash: the secrets are 256-bit random, so
 * stretching protects nothing (it exists for low-entropy passwords), while every service checks a key
 * on every request — ingest at thousands of requests per second, and an unauthenticated flood of
 * made-up keys with real-looking ids would each cost a slow hash (a denial of service for every
 * tenant). The HMAC costs microseconds, and its key, wrapped by the KEK like the tenants' data keys,
 * means a copy of the control topic or of control's tables alone cannot even confirm a guessed key.
 */

/** The keyring label the API-key MAC key is held under (not a tenant id: those cannot contain ':'). */
export const API_KEY_MAC_LABEL = 'headroom:api-keys';
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
