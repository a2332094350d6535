import { Inject, Injectable, NotFoundException } from '@nestjs/common';
import type { Pool, PoolClient } from 'pg';
import type { ControlRecord } from '@headroom/contracts';
import { inTransaction, PG_POOL } from '@headroom/database';
import { LOGGER, type Logger } from '@headroom/runtime';
import { auditEntry, ControlOutbox, controlEntry, tombstoneEntry } from '../outbox/control-outbox';
import { CONTROL_KEKS, resealStoredSecrets, rotateDataKeyIn, tenantDataKeyring, type KekSet } from './data-key-rotation';
import { retirementStatus, sealedVersions, type DataKeyVersion, type VersionStatus } from './retirement';

/** Resolved key-lifecycle settings (config.ts; the retire-after default comes from the topic registry). */
export interface KeyPolicy {
  maxAgeMs: number;
  retireAfterMs: number;
}
export const KEY_POLICY = Symbol('KEY_POLICY');

/** The actor of what the key job does on its own (audit events). */
export const KEY_JOB_ACTOR = 'system:key-job';

/**
 * A tombstone for a key nothing else uses: an append that makes the broker roll the control topic's
 * active segment once max.compaction.lag.ms has passed, so compaction bound holds on a quiet topic.
 */
const COMPACTION_TICK_KEY = 'compaction-tick/control';
const COMPACTION_TICK_EVERY_MS = 15 * 60_000;

/**
 * The data-key lifecycle after creation: rotation when the current key is too old, re-sealing what
 * control stores under older versions, and retirement once the rule allows (retirement.ts). Every
 * change goes out through the outbox in the transaction that makes it.
 */
@Injectable()
export class KeysService {
  private lastTick = 0;

  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(ControlOutbox) private readonly outbox: ControlOutbox,
    @Inject(CONTROL_KEKS) private readonly keks: KekSet,
    @Inject(KEY_POLICY) private readonly policy: KeyPolicy,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /** Each version of the tenant's data key, with its state and what keeps it from retirement. */
  async list(tenant: string): Promise<{ tenant: string; current: number | undefined; maxAgeMs: number; retireAfterMs: number; versions: VersionStatus[] }> {
    const status = await this.status(this.pool, tenant);
    const current = status.find((s) => s.state === 'current')?.version;
    return { tenant, current, maxAgeMs: this.policy.maxAgeMs, retireAfterMs: this.policy.retireAfterMs, versions: status };
  }

  /** Re-seals what is stored under old versions, then retires every version the rule allows; publishes `data_key` … `retired`. */
  async retireExpired(tenant: string, actor: string): Promise<{ tenant: string; resealed: boolean; retired: number[]; versions: VersionStatus[] }> {
    const resealed = await this.reseal(tenant, actor);
    const retired = await this.tx(async (db) => {
      await db.query(`select version from control.data_keys where tenant = $1 and purpose = 'data' for update`, [tenant]);
      const status = await this.status(db, tenant);
      const versions = status.filter((s) => s.retirable).map((s) => s.version);
      if (versions.length === 0) return [];
      const { rows } = await db.query(
        `update control.data_keys set state = 'retired' where tenant = $1 and purpose = 'data' and version = any($2::int[])
         returning tenant, purpose, version, kek_id, wrapped, state, created_at`,
        [tenant, versions],
      );
      const records: ControlRecord[] = rows.map((k) => ({ kind: 'data_key', tenant: k.tenant, purpose: k.purpose, version: k.version, kekId: k.kek_id, wrapped: k.wrapped, state: 'retired', createdAt: new Date(k.created_at).toISOString() }));
      await this.outbox.enqueue(db, [...records.map(controlEntry), auditEntry({ action: 'data_key.retire', actor, tenant, target: versions.map((v) => `data/${v}`).join(',') })]);
      return versions;
    });
    if (retired.length) this.logger.info({ tenant, retired }, 'data-key versions retired');
    return { tenant, resealed, retired, versions: (await this.list(tenant)).versions };
  }

  /** Rotates every tenant whose current data key is older than the maximum age. Returns the tenants rotated. */
  async rotateDue(now = new Date()): Promise<string[]> {
    const { rows } = await this.pool.query<{ tenant: string }>(
      `select k.tenant from control.data_keys k join control.tenants t on t.id = k.tenant
       where k.purpose = 'data' group by k.tenant having max(k.created_at) <= $1 order by k.tenant`,
      [new Date(now.getTime() - this.policy.maxAgeMs)],
    );
    const rotated: string[] = [];
    for (const { tenant } of rows) {
      try {
        const version = await this.tx(async (db) => {
          // Checked again under the lock: another replica (or an operator) may have just rotated it.
          await db.query(`select version from control.data_keys where tenant = $1 and purpose = 'data' for update`, [tenant]);
          const { rows: age } = await db.query(`select max(created_at) as at from control.data_keys where tenant = $1 and purpose = 'data'`, [tenant]);
          if (new Date(age[0].at).getTime() > now.getTime() - this.policy.maxAgeMs) return undefined;
          const { version, records } = await rotateDataKeyIn(db, tenant, this.keks, now);
          await this.outbox.enqueue(db, [...records.map(controlEntry), auditEntry({ action: 'data_key.rotate', actor: KEY_JOB_ACTOR, tenant, target: `data/${version}`, details: { reason: 'max_age' } })]);
          return version;
        });
        if (version !== undefined) {
          rotated.push(tenant);
          this.logger.info({ tenant, version, maxAgeMs: this.policy.maxAgeMs }, 'data key rotated: the current one reached its maximum age');
        }
      } catch (err) {
        // One tenant's failure (e.g. erased meanwhile) must not stop the others' rotation.
        this.logger.warn({ tenant, err: String(err) }, 'scheduled data-key rotation failed; retried at the next run');
      }
    }
    return rotated;
  }

  /** One run of the key job: rotate what is due, then re-seal and retire for every tenant with an older live version. */
  async runJob(now = new Date()): Promise<{ rotated: string[]; retired: Record<string, number[]> }> {
    const rotated = await this.rotateDue(now);
    const { rows } = await this.pool.query<{ tenant: string }>(
      `select tenant from control.data_keys where purpose = 'data' and state = 'active' group by tenant having count(*) > 1 order by tenant`,
    );
    const retired: Record<string, number[]> = {};
    for (const { tenant } of rows) {
      try {
        const result = await this.retireExpired(tenant, KEY_JOB_ACTOR);
        if (result.retired.length) retired[tenant] = result.retired;
      } catch (err) {
        this.logger.warn({ tenant, err: String(err) }, 'data-key retirement failed; retried at the next run');
      }
    }
    await this.compactionTick(now);
    return { rotated, retired };
  }

  /** Re-seals the tenant's stored secrets under its current version if any uses an older one. */
  private async reseal(tenant: string, actor: string): Promise<boolean> {
    return this.tx(async (db) => {
      const { rowCount } = await db.query('select 1 from control.tenants where id = $1', [tenant]);
      if (!rowCount) throw new NotFoundException({ error: 'not_found', message: `no tenant ${tenant}` });
      const record = await resealStoredSecrets(db, tenant, await tenantDataKeyring(db, tenant, this.keks));
      if (!record) return false;
      await this.outbox.enqueue(db, [controlEntry(record), auditEntry({ action: 'alert_config.reseal', actor, tenant, target: tenant })]);
      return true;
    });
  }

  private async compactionTick(now: Date): Promise<void> {
    if (now.getTime() - this.lastTick < COMPACTION_TICK_EVERY_MS) return;
    await this.tx((db) => this.outbox.enqueue(db, [tombstoneEntry(COMPACTION_TICK_KEY)]));
    this.lastTick = now.getTime();
  }

  private async status(db: Pick<PoolClient, 'query'>, tenant: string): Promise<VersionStatus[]> {
    const keys = await db.query<{ version: number; state: DataKeyVersion['state']; created_at: Date }>(
      `select version, state, created_at from control.data_keys where tenant = $1 and purpose = 'data' order by version`,
      [tenant],
    );
    if (keys.rowCount === 0) throw new NotFoundException({ error: 'not_found', message: `no tenant ${tenant}` });
    const configs = await db.query<{ config: unknown }>('select config from control.alert_configs where tenant = $1', [tenant]);
    return retirementStatus({
      versions: keys.rows.map((k) => ({ version: k.version, state: k.state, createdAt: new Date(k.created_at) })),
      sealedInStore: sealedVersions(configs.rows[0]?.config),
      retireAfterMs: this.policy.retireAfterMs,
      now: new Date(),
    });
  }

  /** One transaction, then the relay, so the caller's answer comes once its records are on Kafka. */
  private async tx<T>(work: (db: PoolClient) => Promise<T>): Promise<T> {
    const result = await inTransaction(this.pool, work);
    await this.outbox.relay().catch(() => undefined);
    return result;
  }
}
