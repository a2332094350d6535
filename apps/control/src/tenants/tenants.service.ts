import { ConflictException, Inject, Injectable, NotFoundException } from '@nestjs/common';
import type { Pool, PoolClient } from 'pg';
import {
  ControlRecordMessage,
  controlKey,
  type AlertRouting,
  type ApiKeyRecord,
  type ApiKeyScope,
  type AuditEvent,
  type ControlRecord,
  resolveTenantLimits,
  TenantLimitsSchema,
  type TenantLimitOverrides,
} from '@headroom/contracts';
import { createWrappedKey, KeyEncryptionKey, TenantKeyring, type KeyPurpose } from '@headroom/crypto';
import type { RecordPublisher } from '@headroom/kafka';
import { generateApiKey, hasPlainReceiverSecrets, PUBLISHER, redactReceiverSecrets, sealReceiverSecrets } from '@headroom/tenancy';
import { inTransaction, PG_POOL } from '@headroom/database';
import { currentApiKeyMac, macKeyRecord, type ApiKeyMacRow } from './api-key-mac';
import { auditEntry, ControlOutbox, controlEntry, tombstoneEntry } from '../outbox/control-outbox';
import { rotateDataKeyIn } from '../keys/data-key-rotation';
import type { AlertConfigBody, CreateTenantBody, LimitsPatchBody } from './tenants.dto';
import { ErasureService } from '../erasure/erasure.service';

export const CONTROL_KEK = Symbol('CONTROL_KEK');

/**
 * Tenants, API keys, data keys and alert configuration. PostgreSQL is control's own record; the
 * compacted control topic is how every other service learns them. Each change and the records that
 * announce it are written in one transaction through the outbox (ControlOutbox): Kafka never sees a
 * rolled-back change, and a committed one is always published.
 */
@Injectable()
export class TenantsService {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(PUBLISHER) private readonly publisher: RecordPublisher,
    @Inject(CONTROL_KEK) private readonly kek: KeyEncryptionKey,
    @Inject(ControlOutbox) private readonly outbox: ControlOutbox,
    @Inject(ErasureService) private readonly erasures: ErasureService,
  ) {}

  async create(body: CreateTenantBody, actor: string) {
    const now = new Date();
    const createdAt = now.toISOString();
    return this.tx(async (db) => {
      const erased = await db.query('select 1 from control.erased_tenants where id = $1', [body.id]);
      if (erased.rowCount) throw new ConflictException({ error: 'tenant_erased', message: `tenant ${body.id} was erased; its id cannot be reused` });
      const inserted = await db.query(
        `insert into control.tenants (id, display_name, locale, shards, status, created_at, limits) values ($1,$2,$3,$4,'active',$5,$6)
         on conflict (id) do nothing`,
        [body.id, body.displayName, body.locale, body.shards, createdAt, body.limits ? JSON.stringify(body.limits) : null],
      );
      if (!inserted.rowCount) throw new ConflictException({ error: 'tenant_exists', message: `tenant ${body.id} already exists` });
      const records: ControlRecord[] = [
        { kind: 'tenant', tenant: body.id, displayName: body.displayName, status: 'active', shards: body.shards, locale: body.locale, ...(body.limits ? { limits: body.limits } : {}), createdAt },
      ];
      for (const purpose of ['data', 'pseudonym'] as const) {
        const key = createWrappedKey(this.kek, body.id, purpose, 1, now);
        await db.query('insert into control.data_keys (tenant, purpose, version, kek_id, wrapped, state, created_at) values ($1,$2,$3,$4,$5,$6,$7)', [
          body.id,
          purpose,
          1,
          key.kekId,
          key.wrapped,
          'active',
          key.createdAt,
        ]);
        records.push({ kind: 'data_key', ...key, state: 'active' });
      }
      if (body.alerting) records.push(await this.writeAlertConfig(db, body.id, body.alerting, now));
      await this.publish(db, records, { action: 'tenant.create', actor, tenant: body.id, target: body.id });
      return { id: body.id, displayName: body.displayName, locale: body.locale, shards: body.shards, limits: body.limits, status: 'active', createdAt };
    });
  }

  /**
   * Re-asserts everything control knows on the compacted topic (latest value per key wins, so
   * repeating identical records changes nothing). Run at boot: a recreated or truncated control topic
   * heals itself instead of leaving every other service without tenants and keys.
   */
  async republishAll(): Promise<number> {
    // What a crashed control left committed goes first, in its order.
    await this.outbox.relay().catch(() => undefined);
    const records: ControlRecord[] = [];
    const iso = (d: Date | string) => new Date(d).toISOString();
    const tenants = await this.pool.query('select id, display_name, locale, shards, status, created_at, limits from control.tenants');
    for (const t of tenants.rows) {
      records.push({
        kind: 'tenant',
        tenant: t.id,
        displayName: t.display_name,
        status: t.status,
        shards: t.shards,
        locale: t.locale,
        ...(t.limits ? { limits: t.limits } : {}),
        createdAt: iso(t.created_at),
      });
    }
    const dataKeys = await this.pool.query('select tenant, purpose, version, kek_id, wrapped, state, created_at from control.data_keys order by tenant, purpose, version');
    for (const k of dataKeys.rows) {
      records.push({ kind: 'data_key', tenant: k.tenant, purpose: k.purpose, version: k.version, kekId: k.kek_id, wrapped: k.wrapped, state: k.state, createdAt: iso(k.created_at) });
    }
    // The MAC keys before the API keys whose digests use them.
    const macKeys = await this.pool.query<ApiKeyMacRow>('select version, kek_id, wrapped, created_at from control.api_key_mac_keys order by version');
    for (const m of macKeys.rows) records.push(macKeyRecord(m));
    const apiKeys = await this.pool.query('select key_id, tenant, secret_hash, scopes, created_at, revoked_at, hash_alg, mac_version from control.api_keys');
    for (const k of apiKeys.rows) records.push({ ...apiKeyRecord(k), ...(k.revoked_at ? { revokedAt: iso(k.revoked_at) } : {}) });
    const configs = await this.pool.query('select tenant, config, updated_at from control.alert_configs');
    const keyring = this.keyringOf(dataKeys.rows);
    for (const c of configs.rows) {
      const config = await this.sealStoredConfig(c.tenant, c.config, keyring);
      records.push({ kind: 'alert_config', tenant: c.tenant, ...config, updatedAt: iso(c.updated_at) });
    }
    const erased = await this.pool.query('select id, erased_at from control.erased_tenants');
    for (const e of erased.rows) records.push({ kind: 'tenant_erased', tenant: e.id, erasedAt: iso(e.erased_at) });
    await this.outbox.underRelayLock(async () => {
      for (let i = 0; i < records.length; i += 500) {
        await this.publisher.publish(
          ControlRecordMessage,
          records.slice(i, i + 500).map((value) => ({ key: controlKey(value), value })),
        );
      }
    });
    return records.length;
  }

  async list() {
    const { rows } = await this.pool.query('select id, display_name, locale, shards, status, created_at from control.tenants order by id');
    return rows.map((r) => ({ id: r.id, displayName: r.display_name, locale: r.locale, shards: r.shards, status: r.status, createdAt: r.created_at }));
  }

  /** Returns the secret once; only its hash is stored and published. */
  async createApiKey(tenant: string, scopes: ApiKeyScope[], actor: string) {
    return this.tx(async (db) => {
      await this.requireTenant(db, tenant);
      const key = generateApiKey();
      const createdAt = new Date().toISOString();
      const mac = await currentApiKeyMac(db, this.kek);
      const secretHash = mac.digest(key.secret);
      await db.query('insert into control.api_keys (key_id, tenant, secret_hash, scopes, created_at, hash_alg, mac_version) values ($1,$2,$3,$4,$5,$6,$7)', [
        key.keyId,
        tenant,
        secretHash,
        scopes,
        createdAt,
        'hmac-sha256',
        mac.version,
      ]);
      // A new MAC key goes out first: every service can check the key by the time its record arrives.
      const records: ControlRecord[] = [...(mac.created ? [mac.created] : []), { kind: 'api_key', keyId: key.keyId, tenant, hash: 'hmac-sha256', macVersion: mac.version, secretHash, scopes, createdAt }];
      await this.publish(db, records, {
        action: 'api_key.create',
        actor,
        tenant,
        target: key.keyId,
      });
      return { keyId: key.keyId, tenant, scopes, secret: key.secret, createdAt };
    });
  }

  async revokeApiKey(tenant: string, keyId: string, actor: string) {
    return this.tx(async (db) => {
      const { rows } = await db.query(
        'update control.api_keys set revoked_at = now() where key_id = $1 and tenant = $2 returning secret_hash, scopes, created_at, revoked_at, hash_alg, mac_version',
        [keyId, tenant],
      );
      if (!rows.length) throw new NotFoundException({ error: 'not_found', message: `no API key ${keyId} for tenant ${tenant}` });
      const r = rows[0];
      await this.publish(db, [{ ...apiKeyRecord({ ...r, key_id: keyId, tenant }), revokedAt: new Date(r.revoked_at).toISOString() }],
        { action: 'api_key.revoke', actor, tenant, target: keyId },
      );
      return { keyId, revoked: true };
    });
  }

  async putAlertConfig(tenant: string, body: AlertConfigBody, actor: string) {
    return this.tx(async (db) => {
      await this.requireTenant(db, tenant);
      const record = await this.writeAlertConfig(db, tenant, body, new Date());
      await this.publish(db, [record], { action: 'alert_config.update', actor, tenant, target: tenant });
      // Sealed values are of no use to the caller, and the body's secrets are not echoed: `***` in their place.
      return record.kind === 'alert_config' && record.routing ? { ...record, routing: redactReceiverSecrets(record.routing) } : record;
    });
  }

  /**
   * Merges `patch` over the tenant's limit overrides (null removes one), stores them and republishes
   * the tenant record: collectors and analytics read limits from the record per request/batch.
   */
  async patchLimits(tenant: string, patch: LimitsPatchBody, actor: string) {
    return this.tx(async (db) => {
      const { rows } = await db.query('select id, display_name, locale, shards, status, created_at, limits from control.tenants where id = $1 for update', [tenant]);
      if (!rows.length) throw new NotFoundException({ error: 'not_found', message: `no tenant ${tenant}` });
      const t = rows[0];
      const merged: Record<string, number> = { ...((t.limits as TenantLimitOverrides | null) ?? {}) } as Record<string, number>;
      for (const [k, v] of Object.entries(patch)) {
        if (v === null) delete merged[k];
        else if (v !== undefined) merged[k] = v;
      }
      const limits = TenantLimitsSchema.parse(merged);
      await db.query('update control.tenants set limits = $2 where id = $1', [tenant, Object.keys(limits).length ? JSON.stringify(limits) : null]);
      const record: ControlRecord = {
        kind: 'tenant',
        tenant,
        displayName: t.display_name,
        status: t.status,
        shards: t.shards,
        locale: t.locale,
        ...(Object.keys(limits).length ? { limits } : {}),
        createdAt: new Date(t.created_at).toISOString(),
      };
      await this.publish(db, [record], { action: 'tenant_limits.update', actor, tenant, target: tenant });
      // The overrides, and what applies with this deployment's built-in defaults (collectors may add its own).
      return { tenant, overrides: limits, effective: resolveTenantLimits(limits) };
    });
  }

  /**
   * Rotation: a new data-key version encrypts from now on; older versions still decrypt until the key
   * job retires them. Stored receiver secrets are re-sealed under it in the same transaction.
   */
  async rotateDataKey(tenant: string, actor: string) {
    return this.tx(async (db) => {
      await this.requireTenant(db, tenant);
      const { version, records } = await rotateDataKeyIn(db, tenant, { current: this.kek, previous: [] });
      await this.publish(db, records, { action: 'data_key.rotate', actor, tenant, target: `data/${version}` });
      return { tenant, version };
    });
  }

  /**
   * Erasure by crypto-shredding: every service destroys the tenant's keys on `tenant_erased`, the
   * wrapped keys are tombstoned so compaction removes them from the topic, and control forgets the
   * tenant. Its history in Kafka stays there but can no longer be decrypted by anyone.
   */
  async erase(tenant: string, actor: string) {
    return this.tx(async (db) => {
      await this.requireTenant(db, tenant);
      const keys = await db.query('select purpose, version from control.data_keys where tenant = $1', [tenant]);
      const apiKeys = await db.query('select key_id from control.api_keys where tenant = $1', [tenant]);
      // People's tokens name a person (`sub`, often an e-mail): their rows go, and so do the revocations
      // on the topic (the tenant's tokens are refused everywhere once it is erased).
      const tokens = await db.query<{ jti: string; revoked: boolean }>('delete from control.people_tokens where tenant = $1 returning jti, revoked_at is not null as revoked', [tenant]);
      const erasedAt = new Date().toISOString();
      await db.query('insert into control.erased_tenants (id, erased_at) values ($1, $2) on conflict do nothing', [tenant, erasedAt]);
      await db.query('delete from control.tenants where id = $1', [tenant]);
      await this.publish(db, [{ kind: 'tenant_erased', tenant, erasedAt }], { action: 'tenant.erase', actor, tenant, target: tenant });
      const tombstones = [
        `tenant/${tenant}`,
        `alert_config/${tenant}`,
        ...keys.rows.map((k) => `data_key/${tenant}/${k.purpose}/${k.version}`),
        ...apiKeys.rows.map((k) => `api_key/${k.key_id}`),
        ...tokens.rows.filter((t) => t.revoked).map((t) => `token_revoked/${t.jti}`),
      ];
      await this.outbox.enqueue(db, tombstones.map(tombstoneEntry));
      // After tenant_erased: each service has shredded the keys when it carries out the request and acknowledges.
      const erasureId = await this.erasures.requestTenantInTransaction(db, tenant, actor);
      return { tenant, erasedAt, keysDestroyed: keys.rowCount, erasureId };
    });
  }

  private async writeAlertConfig(db: PoolClient, tenant: string, body: AlertConfigBody, now: Date): Promise<ControlRecord> {
    // The JSON column holds the whole config, so republishAll (which spreads it) carries every field.
    // Receivers' secrets (bot tokens, routing keys…) are sealed under the tenant's data key before they
    // reach the column or the topic, and never go to a log line or the audit event. The body replaces
    // the whole config: a secret the caller does not resend is gone (answers only ever show `***`).
    const routing = body.routing ? sealReceiverSecrets(body.routing, tenant, this.keyringOf((await this.dataKeys(db, tenant)).rows)) : undefined;
    const config = {
      slackChannel: body.slackChannel,
      rules: body.rules,
      ...(body.alertRules ? { alertRules: body.alertRules } : {}),
      ...(routing ? { routing } : {}),
      ...(body.templates ? { templates: body.templates } : {}),
      ...(body.anomalies ? { anomalies: body.anomalies } : {}),
    };
    const record: ControlRecord = { kind: 'alert_config', tenant, ...config, updatedAt: now.toISOString() };
    await db.query(
      `insert into control.alert_configs (tenant, config, updated_at) values ($1,$2,$3)
       on conflict (tenant) do update set config = excluded.config, updated_at = excluded.updated_at`,
      [tenant, JSON.stringify(config), record.updatedAt],
    );
    return record;
  }

  private dataKeys(db: PoolClient, tenant: string) {
    return db.query(`select tenant, purpose, version, kek_id, wrapped, state, created_at from control.data_keys where tenant = $1 and purpose = 'data'`, [tenant]);
  }

  /**
   * A keyring over control's own rows (the same keys every service unwraps from the control topic).
   * A key that does not unwrap under this KEK (a tampered row, a wrong KEK for that tenant) leaves
   * that tenant without a usable key, and only that tenant: its secrets then cannot be sealed (its
   * config is refused or republished as stored), while control still boots and serves every other.
   */
  private keyringOf(rows: { tenant: string; purpose: KeyPurpose; version: number; kek_id: string; wrapped: string; state: string; created_at: Date | string }[]): TenantKeyring {
    const keyring = new TenantKeyring(this.kek);
    for (const k of rows) {
      if (k.purpose !== 'data') continue;
      try {
        keyring.add({ tenant: k.tenant, purpose: k.purpose, version: k.version, kekId: k.kek_id, wrapped: k.wrapped, createdAt: new Date(k.created_at).toISOString() });
        if (k.state === 'retired') keyring.retire(k.tenant, k.version);
      } catch {
        continue;
      }
    }
    return keyring;
  }

  /**
   * A config stored before receiver secrets were sealed is sealed (and stored so) before it is
   * republished. If that fails (no usable data key), it is republished as stored: better than none.
   */
  private async sealStoredConfig<C extends { routing?: AlertRouting }>(tenant: string, config: C, keyring: TenantKeyring): Promise<C> {
    if (!config.routing || !hasPlainReceiverSecrets(config.routing)) return config;
    let sealed: C;
    try {
      sealed = { ...config, routing: sealReceiverSecrets(config.routing, tenant, keyring) };
    } catch {
      return config;
    }
    await this.pool.query('update control.alert_configs set config = $2 where tenant = $1', [tenant, JSON.stringify(sealed)]);
    return sealed;
  }

  private async requireTenant(db: PoolClient, tenant: string) {
    const { rowCount } = await db.query('select 1 from control.tenants where id = $1', [tenant]);
    if (!rowCount) throw new NotFoundException({ error: 'not_found', message: `no tenant ${tenant}` });
  }

  /** The records and the audit event go out only if the caller's transaction commits (ControlOutbox). */
  private async publish(db: PoolClient, records: ControlRecord[], audit: Pick<AuditEvent, 'action' | 'actor' | 'tenant' | 'target'>) {
    await this.outbox.enqueue(db, [...records.map(controlEntry), auditEntry(audit)]);
  }

  /**
   * One transaction, then the relay: once it commits, the answer waits for its records to be on
   * Kafka (services see the change when the caller gets its 2xx). A relay failure does not undo a
   * committed change: the outbox keeps the rows and the relay's timer sends them.
   */
  private async tx<T>(work: (db: PoolClient) => Promise<T>): Promise<T> {
    const result = await inTransaction(this.pool, work);
    await this.outbox.relay().catch(() => undefined);
    return result;
  }
}

/** An `api_key` record from its row (without `revokedAt`): keys made before the MAC carry a plain SHA-256. */
function apiKeyRecord(k: { key_id: string; tenant: string; secret_hash: string; scopes: ApiKeyScope[]; created_at: Date | string; hash_alg?: string; mac_version?: number | null }): ApiKeyRecord {
  return {
    kind: 'api_key',
    keyId: k.key_id,
    tenant: k.tenant,
    ...(k.hash_alg === 'hmac-sha256' && k.mac_version ? { hash: 'hmac-sha256' as const, macVersion: k.mac_version } : {}),
    secretHash: k.secret_hash,
    scopes: k.scopes,
    createdAt: new Date(k.created_at).toISOString(),
  };
}
