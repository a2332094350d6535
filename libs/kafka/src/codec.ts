import { randomBytes } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { Headers, messageContracts, toFieldIssues, type MessageContract } from '@headroom/contracts';
import { CryptoError, type TenantKeyring } from '@headroom/crypto';
import { tenantOfKey } from './partitioning';
import { ContractViolationError } from './errors';

export const CODEC_PLAIN = 'json';
/** Tenant data as written: JSON, gzip (level 1), then sealed — ciphertext does not compress, so compress first. */
export const CODEC_SEALED = 'json+gzip+aes-256-gcm';
/** Tenant data as written before compression moved into the codec; still read. */
export const CODEC_SEALED_UNCOMPRESSED = 'json+aes-256-gcm';
/** The most a sealed payload may inflate to (a record is at most 8 MiB; JSON compresses ~10×). */
const MAX_INFLATED_BYTES = 128 * 1024 * 1024;

export interface EncodedRecord {
  key: string;
  value: Buffer | null;
  headers: Record<string, string>;
}

export function newTraceparent(): string {
  return `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`;
}

/** Validates, serialises and (for tenant-scoped messages) seals a payload with the tenant's current data key. */
export function encodeRecord(
  contract: MessageContract,
  payload: unknown,
  opts: { key: string; tenant?: string; keyring?: TenantKeyring; traceparent?: string },
): EncodedRecord {
  const headers: Record<string, string> = {
    [Headers.schema]: contract.id,
    [Headers.traceparent]: opts.traceparent ?? newTraceparent(),
  };
  if (opts.tenant) headers[Headers.tenant] = opts.tenant;
  if (payload === null) {
    // Tombstone (compacted topics): deletes the key's latest value.
    return { key: opts.key, value: null, headers: { ...headers, [Headers.codec]: CODEC_PLAIN, [Headers.keyVersion]: 'none' } };
  }
  const parsed = contract.schema.safeParse(payload);
  if (!parsed.success) throw new ContractViolationError(contract.id, toFieldIssues(parsed.error));
  const json = Buffer.from(JSON.stringify(parsed.data));
  if (!contract.tenantScoped) {
    return { key: opts.key, value: json, headers: { ...headers, [Headers.codec]: CODEC_PLAIN, [Headers.keyVersion]: 'none' } };
  }
  if (!opts.tenant || !opts.keyring) throw new Error(`${contract.id} is tenant-scoped: a tenant and a keyring are required`);
  if (tenantOfKey(opts.key) !== opts.tenant) throw new Error(`record key ${opts.key} does not belong to tenant ${opts.tenant}`);
  // Level 1: ~0.5 ms for a 160 KB batch, ~11× smaller; level 6 is 4× slower for 25% less.
  const packed = gzipSync(json, { level: 1 });
  const sealed = opts.keyring.encrypt({ tenant: opts.tenant, topic: contract.topic.name, schema: contract.id }, packed);
  return {
    key: opts.key,
    value: sealed.ciphertext,
    headers: { ...headers, [Headers.codec]: CODEC_SEALED, [Headers.keyVersion]: String(sealed.keyVersion) },
  };
}

export type DecodeResult =
  | { ok: true; contract: MessageContract; tenant: string | undefined; value: unknown }
  | { ok: false; retriable: boolean; code: string; reason: string };

/**
 * Authenticates and validates one consumed record. Every check that could let a record reach the
 * wrong tenant's handler is here: known schema on the expected topic, tenant header matching the
 * key, sealed codec for tenant data, decryption with the header tenant's key (AAD binds tenant,
 * topic, schema and key version), then the schema itself.
 */
export function decodeRecord(
  topic: string,
  key: string | null,
  value: Buffer | null,
  headers: Record<string, string>,
  accepted: ReadonlySet<string> | ReadonlyMap<string, MessageContract>,
  keyring: TenantKeyring | undefined,
): DecodeResult {
  const schemaId = headers[Headers.schema];
  // A map carries the consumer's own contracts; a set of ids refers to the registry's.
  const contract = !schemaId ? undefined : accepted instanceof Map ? accepted.get(schemaId) : accepted.has(schemaId) ? messageContracts.get(schemaId) : undefined;
  if (!contract) {
    return { ok: false, retriable: false, code: 'unknown_schema', reason: `schema ${schemaId ?? '(missing)'} is not accepted here` };
  }
  if (contract.topic.name !== topic) {
    return { ok: false, retriable: false, code: 'unknown_schema', reason: `schema ${contract.id} does not belong on ${topic}` };
  }
  const tenant = headers[Headers.tenant];
  if (value === null) {
    if (contract.tenantScoped) return { ok: false, retriable: false, code: 'codec', reason: 'tombstone on a tenant-scoped topic' };
    return { ok: true, contract, tenant, value: null };
  }
  let json: Buffer = value;
  if (contract.tenantScoped) {
    if (!tenant) return { ok: false, retriable: false, code: 'tenant_mismatch', reason: `missing ${Headers.tenant} header` };
    if (tenantOfKey(key) !== tenant) {
      return { ok: false, retriable: false, code: 'tenant_mismatch', reason: `record key does not belong to tenant ${tenant}` };
    }
    const codec = headers[Headers.codec];
    if (codec !== CODEC_SEALED && codec !== CODEC_SEALED_UNCOMPRESSED) {
      return { ok: false, retriable: false, code: 'codec', reason: `tenant data must be sealed (${CODEC_SEALED}), got ${codec ?? '(missing)'}` };
    }
    const version = Number(headers[Headers.keyVersion]);
    if (!Number.isInteger(version) || version < 1) {
      return { ok: false, retriable: false, code: 'codec', reason: `bad ${Headers.keyVersion} header` };
    }
    if (!keyring) throw new Error('a keyring is required to consume tenant-scoped topics');
    try {
      json = keyring.decrypt({ tenant, topic, schema: contract.id }, version, value);
    } catch (err) {
      if (err instanceof CryptoError) {
        return { ok: false, retriable: err.code === 'unknown_key', code: err.code, reason: err.message };
      }
      throw err;
    }
    if (codec === CODEC_SEALED) {
      try {
        json = gunzipSync(json, { maxOutputLength: MAX_INFLATED_BYTES });
      } catch (err) {
        return { ok: false, retriable: false, code: 'codec', reason: `sealed payload does not inflate: ${(err as Error).message}` };
      }
    }
  } else if (headers[Headers.codec] !== CODEC_PLAIN) {
    return { ok: false, retriable: false, code: 'codec', reason: `expected codec ${CODEC_PLAIN}` };
  }
  let data: unknown;
  try {
    data = JSON.parse(json.toString('utf8'));
  } catch {
    return { ok: false, retriable: false, code: 'schema', reason: 'payload is not JSON' };
  }
  const parsed = contract.schema.safeParse(data);
  if (!parsed.success) {
    const issues = toFieldIssues(parsed.error).slice(0, 10);
    return { ok: false, retriable: false, code: 'schema', reason: issues.map((i) => `${i.path}: ${i.message}`).join('; ') };
  }
  return { ok: true, contract, tenant, value: parsed.data };
}
