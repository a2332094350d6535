import type { Pool, PoolClient } from 'pg';
import type { Labels } from '@headroom/contracts';
import { inTransaction, migrateSchema } from '@headroom/database';
import type { AlertInstance, GroupNotification } from '../channels/channel';
import type { GroupState } from './group-plan';
import type { Silence } from './tenant-view';

/**
 * Alerting's own PostgreSQL schema: the durable half of the dispatcher. Groups and the outbox live
 * here so that evaluation only ever writes a row (never waits for a provider), any replica can flush
 * a group or send an entry (`for update skip locked`), and a crash loses nothing: an entry is marked
 * sent only after its provider accepted it, and held by a lease while it is being sent.
 */
const MIGRATION = `
create schema if not exists alerting;
create table if not exists alerting.alerts (
  tenant text not null, fingerprint text not null, state text not null, labels jsonb not null,
  starts_at bigint not null, updated_at bigint not null,
  primary key (tenant, fingerprint));
create index if not exists alerts_firing on alerting.alerts (tenant) where state = 'firing';
create table if not exists alerting.groups (
  tenant text not null, group_key text not null, state jsonb not null, next_flush_at bigint,
  primary key (tenant, group_key));
create index if not exists groups_due on alerting.groups (next_flush_at) where next_flush_at is not null;
create table if not exists alerting.outbox (
  id bigserial primary key, tenant text not null, receiver text not null, channel text not null, integration int not null,
  group_key text not null, payload jsonb not null, status text not null default 'pending',
  attempts int not null default 0, next_attempt_at bigint not null, lease_until bigint, last_error text,
  created_at bigint not null, origin_at bigint not null, sent_at bigint, failover_of bigint);
create index if not exists outbox_due on alerting.outbox (next_attempt_at) where status in ('pending', 'sending');
create index if not exists outbox_queue on alerting.outbox (tenant, receiver, channel, integration, id) where status in ('pending', 'sending');
create table if not exists alerting.threads (
  tenant text not null, group_key text not null, receiver text not null, channel text not null, integration int not null,
  thread jsonb not null, updated_at bigint not null,
  primary key (tenant, group_key, receiver, channel, integration));
create table if not exists alerting.silences (
  tenant text not null, id text not null, matchers jsonb not null, starts_at bigint not null, ends_at bigint not null,
  end_on_resolve boolean not null, created_by text not null, comment text not null, created_at bigint not null,
  primary key (tenant, id));
`;

export interface OutboxEntry {
  id: string;
  tenant: string;
  receiver: string;
  channel: string;
  integration: number;
  groupKey: string;
  payload: Omit<GroupNotification, 'id' | 'thread'>;
  attempts: number;
  createdAt: number;
  originAt: number;
  failoverOf: string | null;
}

export interface NewOutboxEntry {
  tenant: string;
  receiver: string;
  channel: string;
  integration: number;
  groupKey: string;
  payload: Omit<GroupNotification, 'id' | 'thread'>;
  originAt: number;
  failoverOf?: string;
}

const STATE_RANK: Record<string, number> = { pending: 0, firing: 1, resolved: 2 };

export class DispatchRepository {
  constructor(private readonly pool: Pool) {}

  async migrate(): Promise<void> {
    await migrateSchema(this.pool, 'alerting', MIGRATION);
  }

  transaction<T>(work: (db: PoolClient) => Promise<T>): Promise<T> {
    return inTransaction(this.pool, work);
  }

  /**
   * Records an alert's new state if it is newer than what is stored (a later episode, or a later
   * state of the same episode); answers false for a replayed or out-of-order event.
   */
  async recordAlert(db: PoolClient, tenant: string, a: AlertInstance & { state: 'pending' | 'firing' | 'resolved' }, now: number): Promise<boolean> {
    const res = await db.query<{ state: string; starts_at: string }>('select state, starts_at from alerting.alerts where tenant = $1 and fingerprint = $2 for update', [tenant, a.fingerprint]);
    const stored = res.rows[0];
    if (stored) {
      const storedStart = Number(stored.starts_at);
      const newer = a.startsAt > storedStart || (a.startsAt === storedStart && STATE_RANK[a.state]! > STATE_RANK[stored.state]!);
      if (!newer) return false;
    }
    await db.query(
      `insert into alerting.alerts (tenant, fingerprint, state, labels, starts_at, updated_at) values ($1,$2,$3,$4,$5,$6)
       on conflict (tenant, fingerprint) do update set state = excluded.state, labels = excluded.labels, starts_at = excluded.starts_at, updated_at = excluded.updated_at`,
      [tenant, a.fingerprint, a.state, JSON.stringify(a.labels), a.startsAt, now],
    );
    return true;
  }

  async firingLabels(db: PoolClient | Pool, tenant: string): Promise<Labels[]> {
    const res = await db.query<{ labels: Labels }>(`select labels from alerting.alerts where tenant = $1 and state = 'firing'`, [tenant]);
    return res.rows.map((r) => r.labels);
  }

  async lockGroup(db: PoolClient, tenant: string, groupKey: string): Promise<GroupState | undefined> {
    const res = await db.query<{ state: GroupState }>('select state from alerting.groups where tenant = $1 and group_key = $2 for update', [tenant, groupKey]);
    return res.rows[0]?.state;
  }

  async saveGroup(db: PoolClient, g: GroupState): Promise<void> {
    await db.query(
      `insert into alerting.groups (tenant, group_key, state, next_flush_at) values ($1,$2,$3,$4)
       on conflict (tenant, group_key) do update set state = excluded.state, next_flush_at = excluded.next_flush_at`,
      [g.tenant, g.groupKey, JSON.stringify(g), g.nextFlushAt],
    );
  }

  async deleteGroup(db: PoolClient, tenant: string, groupKey: string): Promise<void> {
    await db.query('delete from alerting.groups where tenant = $1 and group_key = $2', [tenant, groupKey]);
  }

  /** Due groups, locked for this transaction; other replicas skip them. */
  async lockDueGroups(db: PoolClient, now: number, limit: number): Promise<GroupState[]> {
    const res = await db.query<{ state: GroupState }>(
      'select state from alerting.groups where next_flush_at <= $1 order by next_flush_at limit $2 for update skip locked',
      [now, limit],
    );
    return res.rows.map((r) => r.state);
  }

  async groupsOf(tenant: string): Promise<GroupState[]> {
    const res = await this.pool.query<{ state: GroupState }>('select state from alerting.groups where tenant = $1 order by group_key', [tenant]);
    return res.rows.map((r) => r.state);
  }

  async enqueue(db: PoolClient | Pool, entries: NewOutboxEntry[], now: number): Promise<void> {
    for (const e of entries) {
      await db.query(
        `insert into alerting.outbox (tenant, receiver, channel, integration, group_key, payload, next_attempt_at, created_at, origin_at, failover_of)
         values ($1,$2,$3,$4,$5,$6,$7,$7,$8,$9)`,
        [e.tenant, e.receiver, e.channel, e.integration, e.groupKey, JSON.stringify(e.payload), now, e.originAt, e.failoverOf ?? null],
      );
    }
  }

  enqueueNow(entries: NewOutboxEntry[], now: number): Promise<void> {
    return this.enqueue(this.pool, entries, now);
  }

  /**
   * Claims up to `limit` due entries, each the head of its own queue (tenant + receiver + integration:
   * FIFO, so a thread's parent is posted before its replies), skipping queues in `blocked` (open
   * circuits) and any queue another replica is sending from. The lease makes a crashed sender's
   * entry due again after `leaseMs`.
   */
  async claim(now: number, limit: number, leaseMs: number, blocked: readonly string[]): Promise<OutboxEntry[]> {
    const res = await this.pool.query(
      `with heads as (
         select distinct on (tenant, receiver, channel, integration) id, status, lease_until, next_attempt_at, tenant, receiver, channel, integration
         from alerting.outbox where status in ('pending', 'sending')
         order by tenant, receiver, channel, integration, id),
       due as (
         select o.id from alerting.outbox o join heads h on h.id = o.id
         where h.next_attempt_at <= $1 and (h.status = 'pending' or h.lease_until < $1)
           and not (h.tenant || '/' || h.receiver = any($4::text[]))
         order by h.next_attempt_at limit $2
         for update of o skip locked)
       update alerting.outbox o set status = 'sending', lease_until = $1 + $3, attempts = o.attempts + 1
       from due where o.id = due.id
       returning o.*`,
      [now, limit, leaseMs, blocked],
    );
    return res.rows.map(toEntry);
  }

  async markSent(id: string, now: number): Promise<void> {
    await this.pool.query(`update alerting.outbox set status = 'sent', sent_at = $2, lease_until = null, last_error = null where id = $1`, [id, now]);
  }

  async retryLater(id: string, at: number, error: string): Promise<void> {
    await this.pool.query(`update alerting.outbox set status = 'pending', next_attempt_at = $2, lease_until = null, last_error = $3 where id = $1`, [id, at, error.slice(0, 500)]);
  }

  /** Puts a claimed entry back without counting an attempt (rate limited before sending). */
  async deferUnsent(id: string, at: number): Promise<void> {
    await this.pool.query(`update alerting.outbox set status = 'pending', next_attempt_at = $2, lease_until = null, attempts = attempts - 1 where id = $1`, [id, at]);
  }

  async markDead(id: string, error: string): Promise<void> {
    await this.pool.query(`update alerting.outbox set status = 'dead', lease_until = null, last_error = $2 where id = $1`, [id, error.slice(0, 500)]);
  }

  async thread(tenant: string, groupKey: string, receiver: string, channel: string, integration: number): Promise<Record<string, string> | undefined> {
    const res = await this.pool.query<{ thread: Record<string, string> }>(
      'select thread from alerting.threads where tenant = $1 and group_key = $2 and receiver = $3 and channel = $4 and integration = $5',
      [tenant, groupKey, receiver, channel, integration],
    );
    return res.rows[0]?.thread;
  }

  async saveThread(tenant: string, groupKey: string, receiver: string, channel: string, integration: number, thread: Record<string, string>, now: number): Promise<void> {
    await this.pool.query(
      `insert into alerting.threads (tenant, group_key, receiver, channel, integration, thread, updated_at) values ($1,$2,$3,$4,$5,$6,$7)
       on conflict (tenant, group_key, receiver, channel, integration) do update set thread = excluded.thread, updated_at = excluded.updated_at`,
      [tenant, groupKey, receiver, channel, integration, JSON.stringify(thread), now],
    );
  }

  async endThread(tenant: string, groupKey: string, receiver: string, channel: string, integration: number): Promise<void> {
    await this.pool.query('delete from alerting.threads where tenant = $1 and group_key = $2 and receiver = $3 and channel = $4 and integration = $5', [
      tenant,
      groupKey,
      receiver,
      channel,
      integration,
    ]);
  }

  /**
   * Forgets delivered and dead entries created before `before` (a dead entry's payload is what its
   * DLQ record points at: kept as long as the DLQ topic keeps records). Returns how many went.
   */
  async pruneOutbox(before: number): Promise<number> {
    const res = await this.pool.query(`delete from alerting.outbox where status in ('sent', 'dead') and created_at < $1`, [before]);
    return res.rowCount ?? 0;
  }

  /** Entries waiting (pending or sending) per channel, for the queue gauge. */
  async queuedByChannel(): Promise<{ channel: string; n: number }[]> {
    const res = await this.pool.query<{ channel: string; n: string }>(`select channel, count(*) as n from alerting.outbox where status in ('pending', 'sending') group by channel`);
    return res.rows.map((r) => ({ channel: r.channel, n: Number(r.n) }));
  }

  async outboxOf(tenant: string): Promise<(OutboxEntry & { status: string; lastError: string | null; sentAt: number | null })[]> {
    const res = await this.pool.query('select * from alerting.outbox where tenant = $1 order by id', [tenant]);
    return res.rows.map((r) => ({ ...toEntry(r), status: r.status, lastError: r.last_error, sentAt: r.sent_at === null ? null : Number(r.sent_at) }));
  }

  async silences(db: PoolClient | Pool, tenant: string, now: number): Promise<Silence[]> {
    const res = await db.query('select * from alerting.silences where tenant = $1 and ends_at > $2 order by created_at', [tenant, now]);
    return res.rows.map(toSilence);
  }

  async allSilences(tenant: string): Promise<Silence[]> {
    const res = await this.pool.query('select * from alerting.silences where tenant = $1 order by created_at', [tenant]);
    return res.rows.map(toSilence);
  }

  async createSilence(tenant: string, s: Silence, now: number): Promise<void> {
    await this.pool.query(
      `insert into alerting.silences (tenant, id, matchers, starts_at, ends_at, end_on_resolve, created_by, comment, created_at) values ($1,$2,$3,$4,$5,$6,$7,$8,$9)`,
      [tenant, s.id, JSON.stringify(s.matchers), s.startsAt, s.endsAt, s.endOnResolve, s.createdBy, s.comment, now],
    );
  }

  /** Ends a silence now; false if the tenant has no such silence (another tenant's id is "not found"). */
  async expireSilence(tenant: string, id: string, now: number, db: PoolClient | Pool = this.pool): Promise<boolean> {
    const res = await db.query('update alerting.silences set ends_at = least(ends_at, $3) where tenant = $1 and id = $2', [tenant, id, now]);
    return (res.rowCount ?? 0) > 0;
  }

  async eraseTenant(tenant: string): Promise<void> {
    await inTransaction(this.pool, async (db) => {
      for (const table of ['alerts', 'groups', 'outbox', 'threads', 'silences']) await db.query(`delete from alerting.${table} where tenant = $1`, [tenant]);
    });
  }
}

function toEntry(r: Record<string, unknown>): OutboxEntry {
  return {
    id: String(r['id']),
    tenant: r['tenant'] as string,
    receiver: r['receiver'] as string,
    channel: r['channel'] as string,
    integration: r['integration'] as number,
    groupKey: r['group_key'] as string,
    payload: r['payload'] as OutboxEntry['payload'],
    attempts: r['attempts'] as number,
    createdAt: Number(r['created_at']),
    originAt: Number(r['origin_at']),
    failoverOf: r['failover_of'] === null ? null : String(r['failover_of']),
  };
}

function toSilence(r: Record<string, unknown>): Silence {
  return {
    id: r['id'] as string,
    matchers: r['matchers'] as string[],
    startsAt: Number(r['starts_at']),
    endsAt: Number(r['ends_at']),
    endOnResolve: r['end_on_resolve'] as boolean,
    createdBy: r['created_by'] as string,
    comment: r['comment'] as string,
  };
}
