import type { PoolClient } from 'pg';
import type { AlertRouting, ControlRecord } from '@headroom/contracts';
import { createWrappedKey, TenantKeyring, type KeyEncryptionKey } from '@headroom/crypto';
import { openReceiverSecrets, sealReceiverSecrets } from '@headroom/tenancy';
import { sealedVersions } from './retirement';

/** The deployment's KEK and, during a KEK rotation, the one being rotated out. */
export interface KekSet {
  current: KeyEncryptionKey;
  previous: readonly KeyEncryptionKey[];
}

export const CONTROL_KEKS = Symbol('CONTROL_KEKS');

interface DataKeyRow {
  tenant: string;
  version: number;
  kek_id: string;
  wrapped: string;
  state: string;
  created_at: Date | string;
}

/**
 * A keyring over the tenant's stored data keys (retired ones marked retired). A row that does not
 * unwrap is left out: what is sealed with it cannot be re-sealed, and the retirement rule keeps it.
 */
export async function tenantDataKeyring(db: Pick<PoolClient, 'query'>, tenant: string, keks: KekSet): Promise<TenantKeyring> {
  const { rows } = await db.query<DataKeyRow>(`select tenant, version, kek_id, wrapped, state, created_at from control.data_keys where tenant = $1 and purpose = 'data'`, [tenant]);
  const keyring = new TenantKeyring(keks.current, keks.previous);
  for (const k of rows) {
    try {
      keyring.add({ tenant: k.tenant, purpose: 'data', version: k.version, kekId: k.kek_id, wrapped: k.wrapped, createdAt: new Date(k.created_at).toISOString() });
      if (k.state === 'retired') keyring.retire(k.tenant, k.version);
    } catch {
      continue;
    }
  }
  return keyring;
}

/**
 * Adds the tenant's next data-key version in the caller's transaction and re-seals what control
 * stores under older versions, returning the records to publish with it (through the outbox). The
 * tenant's key rows are locked first, so two replicas rotating at once serialise instead of colliding.
 */
export async function rotateDataKeyIn(db: PoolClient, tenant: string, keks: KekSet, now = new Date()): Promise<{ version: number; records: ControlRecord[] }> {
  await db.query(`select version from control.data_keys where tenant = $1 and purpose = 'data' for update`, [tenant]);
  const { rows } = await db.query(`select coalesce(max(version),0)+1 as v from control.data_keys where tenant = $1 and purpose = 'data'`, [tenant]);
  const version = Number(rows[0].v);
  const key = createWrappedKey(keks.current, tenant, 'data', version, now);
  await db.query('insert into control.data_keys (tenant, purpose, version, kek_id, wrapped, state, created_at) values ($1,$2,$3,$4,$5,$6,$7)', [tenant, 'data', version, key.kekId, key.wrapped, 'active', key.createdAt]);
  const records: ControlRecord[] = [{ kind: 'data_key', ...key, state: 'active' }];
  const resealed = await resealStoredSecrets(db, tenant, await tenantDataKeyring(db, tenant, keks), now);
  if (resealed) records.push(resealed);
  return { version, records };
}

/**
 * Re-seals the tenant's stored receiver secrets with its current data key when any is sealed with an
 * older one (opened, then sealed again: same plaintext, new version), in the caller's transaction.
 * Returns the alert_config record to publish, or undefined when nothing needed it or a secret does
 * not open (then the config stays as it was, and the version it uses is not retired).
 */
export async function resealStoredSecrets(db: Pick<PoolClient, 'query'>, tenant: string, keyring: TenantKeyring, now = new Date()): Promise<ControlRecord | undefined> {
  const { rows } = await db.query<{ config: { routing?: AlertRouting } & Record<string, unknown> }>('select config from control.alert_configs where tenant = $1 for update', [tenant]);
  const config = rows[0]?.config;
  const current = keyring.currentVersion(tenant);
  if (!config?.routing || current === undefined) return undefined;
  const versions = sealedVersions(config.routing);
  if (![...versions].some((v) => v !== current)) return undefined;
  let routing: AlertRouting;
  try {
    // Opening everything first, then sealing every plain value: each secret ends under `current`.
    routing = sealReceiverSecrets(openReceiverSecrets(config.routing, tenant, keyring), tenant, keyring);
  } catch {
    return undefined;
  }
  const resealed = { ...config, routing };
  const updatedAt = now.toISOString();
  await db.query('update control.alert_configs set config = $2, updated_at = $3 where tenant = $1', [tenant, JSON.stringify(resealed), updatedAt]);
  return { kind: 'alert_config', tenant, ...resealed, updatedAt } as ControlRecord;
}
