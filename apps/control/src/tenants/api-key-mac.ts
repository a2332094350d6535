import type { PoolClient } from 'pg';
import type { ApiKeyMacRecord } from '@headroom/contracts';
import { createWrappedKey, TenantKeyring, type KeyEncryptionKey, type WrappedKey } from '@headroom/crypto';
import { API_KEY_MAC_LABEL } from '@headroom/tenancy';

/** Control's copy of the API-key MAC keys (wrapped by the KEK, like data keys; re-wrapped with them on a KEK rotation). */
export const API_KEY_MAC_SCHEMA = `
create table if not exists control.api_key_mac_keys (
  version int primary key,
  kek_id text not null,
  wrapped text not null,
  created_at timestamptz not null
);
alter table control.api_keys add column if not exists hash_alg text not null default 'sha256';
alter table control.api_keys add column if not exists mac_version int;
`;

export interface ApiKeyMacRow {
  version: number;
  kek_id: string;
  wrapped: string;
  created_at: Date | string;
}

export const wrappedMacKey = (r: ApiKeyMacRow): WrappedKey => ({
  tenant: API_KEY_MAC_LABEL,
  purpose: 'pseudonym',
  version: r.version,
  kekId: r.kek_id,
  wrapped: r.wrapped,
  createdAt: new Date(r.created_at).toISOString(),
});

export const macKeyRecord = (r: ApiKeyMacRow): ApiKeyMacRecord => ({ kind: 'api_key_mac', version: r.version, kekId: r.kek_id, wrapped: r.wrapped, createdAt: new Date(r.created_at).toISOString() });

/**
 * The newest API-key MAC key, made (and returned as a record to publish, ahead of any key that uses
 * it) on the first API key ever created. Serialised by a transaction-scoped lock: two first keys at
 * once make one MAC key.
 */
export async function currentApiKeyMac(db: PoolClient, kek: KeyEncryptionKey): Promise<{ version: number; digest: (secret: string) => string; created?: ApiKeyMacRecord }> {
  await db.query('select pg_advisory_xact_lock(hashtext($1))', ['headroom:api-key-mac']);
  let { rows } = await db.query<ApiKeyMacRow>('select version, kek_id, wrapped, created_at from control.api_key_mac_keys order by version desc limit 1');
  let created: ApiKeyMacRecord | undefined;
  if (rows.length === 0) {
    const key = createWrappedKey(kek, API_KEY_MAC_LABEL, 'pseudonym', 1);
    const row: ApiKeyMacRow = { version: 1, kek_id: key.kekId, wrapped: key.wrapped, created_at: key.createdAt };
    await db.query('insert into control.api_key_mac_keys (version, kek_id, wrapped, created_at) values ($1,$2,$3,$4)', [row.version, row.kek_id, row.wrapped, row.created_at]);
    rows = [row];
    created = macKeyRecord(row);
  }
  // Unwrapped only for this call (a KeyIntegrityError here means a row under a KEK control does not hold).
  const keyring = new TenantKeyring(kek);
  keyring.add(wrappedMacKey(rows[0]));
  const version = rows[0].version;
  return { version, digest: (secret) => keyring.hmac(API_KEY_MAC_LABEL, version, secret), created };
}
