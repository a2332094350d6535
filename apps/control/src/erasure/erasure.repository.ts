import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import type { Pool, PoolClient } from 'pg';
import type { ErasureAck, ErasureLeft } from '@headroom/contracts';
import { migrateSchema, PG_POOL } from '@headroom/database';

const SCHEMA = `
create schema if not exists control;
create table if not exists control.erasure_requests (
  id uuid primary key,
  tenant text not null,
  scope text not null check (scope in ('subject', 'tenant')),
  subject text,
  requested_at timestamptz not null,
  requested_by text not null,
  completed_at timestamptz
);
create index if not exists erasure_requests_open on control.erasure_requests (requested_at) where completed_at is null;
create index if not exists erasure_requests_open_tenant on control.erasure_requests (tenant, subject) where completed_at is null and scope = 'subject';
create table if not exists control.erasure_acks (
  request_id uuid not null references control.erasure_requests(id),
  service text not null,
  status text not null,
  deleted jsonb not null,
  "left" jsonb not null,
  at timestamptz not null,
  primary key (request_id, service)
);
`;

export interface ErasureRequestRow {
  id: string;
  tenant: string;
  scope: 'subject' | 'tenant';
  subject: string | null;
  requestedAt: string;
  completedAt: string | null;
}

export interface ErasureAckRow {
  service: string;
  status: 'done' | 'partial';
  deleted: Record<string, number>;
  left: ErasureLeft[];
  at: string;
}

/** Control's record of the erasure sagas: each request, and each service's acknowledgement of it. */
@Injectable()
export class ErasureRepository implements OnModuleInit {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  async onModuleInit(): Promise<void> {
    await migrateSchema(this.pool, 'control-erasure', SCHEMA);
  }

  async insertRequest(db: PoolClient, r: { id: string; tenant: string; scope: 'subject' | 'tenant'; subject?: string; requestedAt: string; requestedBy: string }): Promise<void> {
    await db.query('insert into control.erasure_requests (id, tenant, scope, subject, requested_at, requested_by) values ($1,$2,$3,$4,$5,$6)', [
      r.id,
      r.tenant,
      r.scope,
      r.subject ?? null,
      r.requestedAt,
      r.requestedBy,
    ]);
  }

  /** The tenant's open subject erasures: how many, and the one already open for `subject` if any. */
  async openSubjectRequests(db: PoolClient, tenant: string, subject: string): Promise<{ count: number; sameSubject?: string }> {
    const { rows } = await db.query<{ count: number; same: string | null }>(
      `select count(*)::int as count, (array_agg(id order by requested_at) filter (where subject = $2))[1] as same
         from control.erasure_requests where tenant = $1 and scope = 'subject' and completed_at is null`,
      [tenant, subject],
    );
    return { count: rows[0].count, ...(rows[0].same ? { sameSubject: rows[0].same } : {}) };
  }

  async request(id: string, db: Pool | PoolClient = this.pool, lock = false): Promise<ErasureRequestRow | undefined> {
    const { rows } = await db.query(`select id, tenant, scope, subject, requested_at, completed_at from control.erasure_requests where id = $1${lock ? ' for update' : ''}`, [id]);
    const r = rows[0];
    if (!r) return undefined;
    return {
      id: r.id,
      tenant: r.tenant,
      scope: r.scope,
      subject: r.subject,
      requestedAt: new Date(r.requested_at).toISOString(),
      completedAt: r.completed_at ? new Date(r.completed_at).toISOString() : null,
    };
  }

  /** Latest acknowledgement per service wins (a re-run after a restart acknowledges again). */
  async upsertAck(db: PoolClient, ack: ErasureAck): Promise<void> {
    await db.query(
      `insert into control.erasure_acks (request_id, service, status, deleted, "left", at) values ($1,$2,$3,$4,$5,$6)
       on conflict (request_id, service) do update set status = excluded.status, deleted = excluded.deleted, "left" = excluded."left", at = excluded.at
       where control.erasure_acks.at <= excluded.at`,
      [ack.requestId, ack.service, ack.status, JSON.stringify(ack.deleted), JSON.stringify(ack.left), ack.at],
    );
  }

  async acks(id: string, db: Pool | PoolClient = this.pool): Promise<ErasureAckRow[]> {
    const { rows } = await db.query('select service, status, deleted, "left", at from control.erasure_acks where request_id = $1 order by service', [id]);
    return rows.map((r) => ({ service: r.service, status: r.status, deleted: r.deleted, left: r.left, at: new Date(r.at).toISOString() }));
  }

  async markCompleted(db: PoolClient, id: string, at: string): Promise<void> {
    // The pseudonym goes too: once every store has forgotten the subject, control's record of the saga need not name it.
    await db.query('update control.erasure_requests set completed_at = $2, subject = null where id = $1 and completed_at is null', [id, at]);
  }
}
