import { createHash } from 'node:crypto';
import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import type { Pool, PoolClient } from 'pg';
import type { AuditEvent } from '@headroom/contracts';
import { inTransaction, migrateSchema, PG_POOL } from '@headroom/database';
import { ChainVerifier, chainOf, GENESIS_HASH, linkHash, type ChainBreak, type ChainLink } from './audit-chain';

/**
 * The log is append-only: UPDATE, DELETE and TRUNCATE are refused by triggers. Whoever owns the
 * table (or a superuser) can still disable them; the hash chain is what shows that they did.
 */
const AUDIT_SCHEMA = `
create schema if not exists control;
create table if not exists control.audit_log (
  event_key text primary key,
  partition int not null,
  "offset" bigint not null,
  at timestamptz not null,
  service text not null,
  actor text not null,
  tenant text,
  action text not null,
  target text,
  outcome text not null,
  details jsonb not null
);
alter table control.audit_log
  add column if not exists event_id uuid,
  add column if not exists chain text,
  add column if not exists seq bigint,
  add column if not exists prev_hash text,
  add column if not exists hash text;
create index if not exists audit_log_tenant_at on control.audit_log (tenant, at desc);
create unique index if not exists audit_log_chain_seq on control.audit_log (chain, seq);
create table if not exists control.audit_chain_heads (
  chain text primary key,
  seq bigint not null,
  hash text not null,
  updated_at timestamptz not null default now()
);
create or replace function control.audit_log_append_only() returns trigger language plpgsql as $$
begin
  raise exception 'control.audit_log is append-only: % refused', tg_op using errcode = 'insufficient_privilege';
end
$$;
create or replace trigger audit_log_no_change before update or delete on control.audit_log
  for each row execute function control.audit_log_append_only();
create or replace trigger audit_log_no_truncate before truncate on control.audit_log
  for each statement execute function control.audit_log_append_only();
`;

const COLUMNS = `event_key, event_id, partition, "offset", at, service, actor, tenant, action, target, outcome, details, chain, seq, prev_hash, hash`;

interface AuditRow {
  event_key: string;
  event_id: string | null;
  partition: number;
  offset: string;
  at: Date;
  service: AuditEvent['service'];
  actor: string;
  tenant: string | null;
  action: string;
  target: string | null;
  outcome: AuditEvent['outcome'];
  details: AuditEvent['details'];
  chain: string;
  seq: string;
  prev_hash: string;
  hash: string;
}

export interface StoredAuditEvent extends AuditEvent {
  /** Where it was read from headroom.audit.v1 (`partition:offset`). */
  id: string;
  chain: string;
  seq: number;
}

export interface ChainReport {
  chain: string;
  rows: number;
  ok: boolean;
  /** The hash of the last link walked: compare with a copy kept outside this database. */
  headHash: string;
  headSeq: number;
  firstBroken?: ChainBreak;
}

/** A replay of the same event (same fields, same id) is stored once: the key is a hash of the event as it was published. */
export function eventKey(e: AuditEvent): string {
  return createHash('sha256').update(JSON.stringify(e)).digest('hex');
}

function eventOf(r: AuditRow): AuditEvent {
  return {
    ...(r.event_id ? { id: r.event_id } : {}),
    at: r.at.toISOString(),
    service: r.service,
    actor: r.actor,
    ...(r.tenant ? { tenant: r.tenant } : {}),
    action: r.action,
    ...(r.target ? { target: r.target } : {}),
    outcome: r.outcome,
    details: r.details,
  };
}

const PAGE = 1000;

/**
 * The audit trail of every service, as read from headroom.audit.v1: one hash chain per tenant and
 * one for the platform. Each append locks its chain's head row, so the writers of one chain take
 * turns (sequence numbers without gaps or forks) and writers of different chains do not wait.
 */
@Injectable()
export class AuditRepository implements OnModuleInit {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  async onModuleInit(): Promise<void> {
    await migrateSchema(this.pool, 'control-audit', AUDIT_SCHEMA);
    // Once the chain columns are NOT NULL there is nothing left to chain: no lock is taken at boot.
    const pending = await this.pool.query(
      `select 1 from information_schema.columns where table_schema = 'control' and table_name = 'audit_log' and column_name = 'hash' and is_nullable = 'YES'`,
    );
    if (!pending.rowCount) return;
    await inTransaction(this.pool, async (db) => {
      await db.query('select pg_advisory_xact_lock(hashtext($1))', ['headroom:migrate']);
      await this.chainLegacyRows(db);
      await db.query(`alter table control.audit_log
        alter column chain set not null, alter column seq set not null, alter column prev_hash set not null, alter column hash set not null`);
    });
  }

  /**
   * Rows stored before the chain existed are chained at migration, oldest first, appended to their
   * chain. The triggers are off for this transaction only: nobody else sees them off.
   */
  private async chainLegacyRows(db: PoolClient): Promise<void> {
    const { rows } = await db.query<AuditRow>(`select ${COLUMNS} from control.audit_log where hash is null order by at, partition, "offset"`);
    if (rows.length === 0) return;
    await db.query('alter table control.audit_log disable trigger audit_log_no_change');
    for (const r of rows) {
      const e = eventOf(r);
      const chain = chainOf(e.tenant);
      const link = await this.advance(db, chain, await this.lockHead(db, chain), e);
      await db.query('update control.audit_log set chain = $2, seq = $3, prev_hash = $4, hash = $5 where event_key = $1', [r.event_key, link.chain, link.seq, link.prevHash, link.hash]);
    }
    await db.query('alter table control.audit_log enable trigger audit_log_no_change');
  }

  /** Locks the chain's head (created at seq 0 for a new chain) until the transaction ends. */
  private async lockHead(db: PoolClient, chain: string): Promise<{ seq: string; hash: string }> {
    await db.query('insert into control.audit_chain_heads (chain, seq, hash) values ($1, 0, $2) on conflict do nothing', [chain, GENESIS_HASH]);
    return (await db.query<{ seq: string; hash: string }>('select seq, hash from control.audit_chain_heads where chain = $1 for update', [chain])).rows[0];
  }

  /** Moves the locked head to the link that `e` will be. */
  private async advance(db: PoolClient, chain: string, head: { seq: string; hash: string }, e: AuditEvent): Promise<ChainLink> {
    const seq = Number(head.seq) + 1;
    const hash = linkHash(head.hash, chain, seq, e);
    await db.query('update control.audit_chain_heads set seq = $2, hash = $3, updated_at = now() where chain = $1', [chain, seq, hash]);
    return { chain, seq, prevHash: head.hash, hash, event: e };
  }

  /** Appends `e` to its chain; false if it was stored already (a replay). */
  async insert(partition: number, offset: string, e: AuditEvent): Promise<boolean> {
    const key = eventKey(e);
    const chain = chainOf(e.tenant);
    return inTransaction(this.pool, async (db) => {
      const head = await this.lockHead(db, chain);
      // Checked under the head's lock: the same event always falls in the same chain, so two copies
      // of it arriving together take turns here and the second sees the first.
      if ((await db.query('select 1 from control.audit_log where event_key = $1', [key])).rowCount) return false;
      const link = await this.advance(db, chain, head, e);
      await db.query(
        `insert into control.audit_log (${COLUMNS}) values ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16)`,
        [key, e.id ?? null, partition, offset, e.at, e.service, e.actor, e.tenant ?? null, e.action, e.target ?? null, e.outcome, JSON.stringify(e.details), chain, link.seq, link.prevHash, link.hash],
      );
      return true;
    });
  }

  async list(filter: { tenant?: string; limit: number }): Promise<StoredAuditEvent[]> {
    const { rows } = await this.pool.query<AuditRow>(
      `select ${COLUMNS} from control.audit_log where ($1::text is null or tenant = $1) order by at desc, partition, "offset" desc limit $2`,
      [filter.tenant ?? null, filter.limit],
    );
    return rows.map((r) => ({ id: `${r.partition}:${r.offset}`, chain: r.chain, seq: Number(r.seq), ...eventOf(r) }));
  }

  /**
   * Walks one chain from its first link, in pages, inside one repeatable-read snapshot (appends made
   * meanwhile are not half seen), and reports the first broken link.
   */
  async verify(tenant: string | undefined): Promise<ChainReport> {
    const chain = chainOf(tenant);
    const db = await this.pool.connect();
    try {
      await db.query('begin transaction isolation level repeatable read read only');
      const verifier = new ChainVerifier();
      let after = 0;
      for (;;) {
        const { rows } = await db.query<AuditRow>(`select ${COLUMNS} from control.audit_log where chain = $1 and seq > $2 order by seq limit $3`, [chain, after, PAGE]);
        const more = verifier.push(rows.map((r) => ({ id: `${r.partition}:${r.offset}`, chain: r.chain, seq: Number(r.seq), prevHash: r.prev_hash, hash: r.hash, event: eventOf(r) })));
        if (!more || rows.length < PAGE) break;
        after = Number(rows[rows.length - 1].seq);
      }
      const head = (await db.query<{ seq: string; hash: string }>('select seq, hash from control.audit_chain_heads where chain = $1', [chain])).rows[0];
      await db.query('commit');
      const result = verifier.finish(head ? { seq: Number(head.seq), hash: head.hash } : undefined);
      return { chain, rows: verifier.rows, ok: result.ok, headHash: result.headHash, headSeq: result.lastSeq, ...(result.firstBroken ? { firstBroken: result.firstBroken } : {}) };
    } catch (err) {
      await db.query('rollback').catch(() => undefined);
      throw err;
    } finally {
      db.release();
    }
  }

  /** The heads moved since `since`, and the database's time as of this read. */
  async headsSince(since: Date): Promise<{ asOf: Date; heads: { chain: string; seq: number; hash: string }[] }> {
    const { rows } = await this.pool.query<{ chain: string | null; seq: string; hash: string; as_of: Date }>(
      `select h.chain, h.seq, h.hash, t.as_of from (select now() as as_of) t
       left join control.audit_chain_heads h on h.updated_at >= $1 and h.seq > 0 order by h.chain`,
      [since],
    );
    return { asOf: rows[0].as_of, heads: rows.filter((r) => r.chain !== null).map((r) => ({ chain: r.chain!, seq: Number(r.seq), hash: r.hash })) };
  }
}
