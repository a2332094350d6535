import { CryptoConfigError } from './errors';

/** AAD binds a payload to its tenant, topic and schema. */
export interface RecordAad {
  tenant: string;
  topic: string;
  schema: string;
}

// Versioned context label: domain-separates record AAD from anything else and lets the format evolve.
const CONTEXT = 'headroom/record-aad/v1';
// In a u-mode regex a valid surrogate pair is one code point, so this only matches lone surrogates.
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Canonical, injective encoding of (tenant, topic, schema, keyVersion):
 * each string is uint32-BE byte length + UTF-8 bytes, then the version as uint32-BE.
 * Length prefixes make ("a|b","c") and ("a","b|c") encode differently, which naive joining would not.
 */
export function encodeRecordAad(aad: RecordAad, keyVersion: number): Buffer {
  const parts: Buffer[] = [];
  for (const field of [CONTEXT, aad.tenant, aad.topic, aad.schema]) {
    // UTF-8 maps every lone surrogate to U+FFFD, so distinct strings could collide: refuse them.
    if (typeof field !== 'string' || LONE_SURROGATE.test(field)) {
      throw new CryptoConfigError('record AAD fields must be well-formed strings');
    }
    const bytes = Buffer.from(field, 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    parts.push(length, bytes);
  }
  const version = Buffer.alloc(4);
  version.writeUInt32BE(keyVersion);
  parts.push(version);
  return Buffer.concat(parts);
}
