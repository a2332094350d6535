import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import type { Pool } from 'pg';
import type { ControlRecord } from '@headroom/contracts';
import { rewrapKey, type KeyPurpose, type WrappedKey } from '@headroom/crypto';
import { inTransaction, PG_POOL } from '@headroom/database';
import { LOGGER, type Logger } from '@headroom/runtime';
import { auditEntry, ControlOutbox, controlEntry } from '../outbox/control-outbox';
import { CONTROL_KEKS, type KekSet } from './data-key-rotation';
import { macKeyRecord, wrappedMacKey, type ApiKeyMacRow } from '../tenants/api-key-mac';

export interface KekStatus {
  current: string;
  previous: string[];
  /** Tenant keys (data and pseudonym) by the KEK that wraps them. */
  tenantKeys: { total: number; byKek: Record<string, number> };
  /** People's token-signing keys (control.signing_keys) by the KEK that wraps them. */
  signingKeys: { total: number; byKek: Record<string, number> };
  /** Keys not yet under the current KEK: the previous KEK must stay configured everywhere until this is 0. */
  remaining: number;
}

export interface RewrapResult extends KekStatus {
  rewrapped: number;
  /** Keys no configured KEK opens (tampered rows, or wrapped under a KEK this deployment no longer has). */
  failed: { key: string; reason: string }[];
}

const BATCH = 100;

/**
 * KEK rotation by re-wrapping: every key control stores wrapped under another KEK is unwrapped under
 * the previous KEK and wrapped again under the current one, stored, and (tenant keys) republished,
 * so services that read the topic afterwards need only the new KEK. The key bytes do not change:
 * nothing sealed with them has to be re-encrypted. Runs at boot when keys under another KEK exist.
 */
@Injectable()
export class KekService implements OnModuleInit {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(ControlOutbox) private readonly outbox: ControlOutbox,
    @Inject(CONTROL_KEKS) private readonly keks: KekSet,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /**
   * Before control serves anything and before it republishes its state (KeysModule is imported after
   * the modules that create these tables, so their migrations have run): a control booted with a new
   * KEK re-wraps first, and what it then republishes is already under the new KEK.
   */
  async onModuleInit(): Promise<void> {
    const before = await this.status();
    if (before.remaining === 0) return;
    if (this.keks.previous.length === 0) {
      this.logger.error({ byKek: before.tenantKeys.byKek, current: before.current }, 'keys are wrapped under a KEK this control does not hold: set HEADROOM_KEK_PREVIOUS(_ID) to re-wrap them');
      return;
    }
    const result = await this.rewrap('system:kek-rotation');
    this.logger.info({ rewrapped: result.rewrapped, remaining: result.remaining, failed: result.failed.length }, 'keys re-wrapped under the current KEK at boot');
  }

  async status(): Promise<KekStatus> {
    const tenant = await this.pool.query<{ kek_id: string; n: string }>('select kek_id, count(*)::text as n from control.data_keys group by kek_id');
    const signing = (await this.hasSigningKeys())
      ? await this.pool.query<{ kek_id: string; n: string }>(`select wrapped_key->>'kekId' as kek_id, count(*)::text as n from control.signing_keys group by 1`)
      : { rows: [] };
    const tally = (rows: { kek_id: string; n: string }[]) => {
      const byKek: Record<string, number> = {};
      for (const r of rows) byKek[r.kek_id] = Number(r.n);
      return { total: Object.values(byKek).reduce((a, b) => a + b, 0), byKek };
    };
    const mac = await this.pool.query<{ n: string }>('select count(*)::text as n from control.api_key_mac_keys where kek_id <> $1', [this.keks.current.id]).catch(() => ({ rows: [{ n: '0' }] }));
    const tenantKeys = tally(tenant.rows);
    const signingKeys = tally(signing.rows);
    const current = this.keks.current.id;
    const remaining = tenantKeys.total - (tenantKeys.byKek[current] ?? 0) + signingKeys.total - (signingKeys.byKek[current] ?? 0) + Number(mac.rows[0].n);
    return { current, previous: this.keks.previous.map((k) => k.id), tenantKeys, signingKeys, remaining };
  }

  /** Re-wraps every stored key not under the current KEK, in batches (each its own transaction), and republishes tenant keys. */
  async rewrap(actor: string): Promise<RewrapResult> {
    const current = this.keks.current.id;
    const failed: RewrapResult['failed'] = [];
    let rewrapped = 0;
    const { rows: pending } = await this.pool.query<{ tenant: string; purpose: KeyPurpose; version: number }>(
      'select tenant, purpose, version from control.data_keys where kek_id <> $1 order by tenant, purpose, version',
      [current],
    );
    for (let i = 0; i < pending.length; i += BATCH) {
      const batch = pending.slice(i, i + BATCH);
      rewrapped += await inTransaction(this.pool, async (db) => {
        const records: ControlRecord[] = [];
        for (const p of batch) {
          const { rows } = await db.query(
            'select tenant, purpose, version, kek_id, wrapped, state, created_at from control.data_keys where tenant = $1 and purpose = $2 and version = $3 and kek_id <> $4 for update',
            [p.tenant, p.purpose, p.version, current],
          );
          const k = rows[0];
          if (!k) continue; // re-wrapped meanwhile (another replica) or erased
          const key: WrappedKey = { tenant: k.tenant, purpose: k.purpose, version: k.version, kekId: k.kek_id, wrapped: k.wrapped, createdAt: new Date(k.created_at).toISOString() };
          try {
            const next = rewrapKey(key, this.keks.previous, this.keks.current);
            await db.query('update control.data_keys set kek_id = $4, wrapped = $5 where tenant = $1 and purpose = $2 and version = $3', [k.tenant, k.purpose, k.version, next.kekId, next.wrapped]);
            records.push({ kind: 'data_key', ...next, state: k.state });
          } catch (err) {
            failed.push({ key: `data_key/${k.tenant}/${k.purpose}/${k.version}`, reason: err instanceof Error ? err.message : String(err) });
          }
        }
        await this.outbox.enqueue(db, records.map(controlEntry));
        return records.length;
      });
    }
    rewrapped += await this.rewrapSigningKeys(failed);
    rewrapped += await this.rewrapApiKeyMacKeys(failed);
    if (rewrapped > 0 || failed.length > 0) {
      await inTransaction(this.pool, (db) => this.outbox.enqueue(db, [auditEntry({ action: 'kek.rewrap', actor, target: current, details: { rewrapped, failed: failed.length } })]));
    }
    await this.outbox.relay().catch(() => undefined);
    if (failed.length) this.logger.error({ failed }, 'keys that no configured KEK opens were left as they are');
    return { ...(await this.status()), rewrapped, failed };
  }

  /** People's token-signing keys are wrapped the same way (a WrappedKey labelled jwt-signing/<kid>); they never leave PostgreSQL. */
  private async rewrapSigningKeys(failed: RewrapResult['failed']): Promise<number> {
    if (!(await this.hasSigningKeys())) return 0;
    const current = this.keks.current.id;
    return inTransaction(this.pool, async (db) => {
      const { rows } = await db.query<{ kid: string; wrapped_key: WrappedKey }>(`select kid, wrapped_key from control.signing_keys where wrapped_key->>'kekId' <> $1 for update`, [current]);
      let n = 0;
      for (const r of rows) {
        try {
          const next = rewrapKey(r.wrapped_key, this.keks.previous, this.keks.current);
          await db.query('update control.signing_keys set wrapped_key = $2 where kid = $1', [r.kid, JSON.stringify(next)]);
          n++;
        } catch (err) {
          failed.push({ key: `signing_key/${r.kid}`, reason: err instanceof Error ? err.message : String(err) });
        }
      }
      return n;
    });
  }

  /** The API-key MAC keys (control.api_key_mac_keys) are wrapped like tenant keys and republished the same way. */
  private async rewrapApiKeyMacKeys(failed: RewrapResult['failed']): Promise<number> {
    const current = this.keks.current.id;
    return inTransaction(this.pool, async (db) => {
      const { rows } = await db.query<ApiKeyMacRow>('select version, kek_id, wrapped, created_at from control.api_key_mac_keys where kek_id <> $1 for update', [current]);
      const records: ControlRecord[] = [];
      for (const r of rows) {
        try {
          const next = rewrapKey(wrappedMacKey(r), this.keks.previous, this.keks.current);
          await db.query('update control.api_key_mac_keys set kek_id = $2, wrapped = $3 where version = $1', [r.version, next.kekId, next.wrapped]);
          records.push(macKeyRecord({ ...r, kek_id: next.kekId, wrapped: next.wrapped }));
        } catch (err) {
          failed.push({ key: `api_key_mac/${r.version}`, reason: err instanceof Error ? err.message : String(err) });
        }
      }
      await this.outbox.enqueue(db, records.map(controlEntry));
      return records.length;
    });
  }

  private async hasSigningKeys(): Promise<boolean> {
    const { rows } = await this.pool.query<{ t: string | null }>(`select to_regclass('control.signing_keys')::text as t`);
    return rows[0].t !== null;
  }
}
