import { createHash } from 'node:crypto';
import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import type { Pool } from 'pg';
import type { AuditEvent } from '@headroom/contracts';
import { migrateSchema, PG_POOL } from '@headroom/database';

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
create index if not exists audit_log_tenant_at on control.audit_log (tenant, at desc);
`;

export interface StoredAuditEvent extends AuditEvent {
  id: string;
}

/**
 * The audit trail of every service, as read from headroom.audit.v1. The key is a hash of the event
 * itself (which carries its own timestamp), so a replay stores nothing twice; record positions would
 * not do: they start again at 0 if the topic is ever recreated.
 */
@Injectable()
export class AuditRepository implements OnModuleInit {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  async onModuleInit(): Promise<void> {
    await migrateSchema(this.pool, 'control-audit', AUDIT_SCHEMA);
  }

  async insert(partition: number, offset: string, e: AuditEvent): Promise<void> {
    await this.pool.query(
      `insert into control.audit_log (event_key, partition, "offset", at, service, actor, tenant, action, target, outcome, details)
       values ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11) on conflict do nothing`,
      [createHash('sha256').update(JSON.stringify(e)).digest('hex'), partition, offset, e.at, e.service, e.actor, e.tenant ?? null, e.action, e.target ?? null, e.outcome, JSON.stringify(e.details)],
    );
  }

  async list(filter: { tenant?: string; limit: number }): Promise<StoredAuditEvent[]> {
    const { rows } = await this.pool.query(
      `select partition, "offset", at, service, actor, tenant, action, target, outcome, details from control.audit_log
       where ($1::text is null or tenant = $1) order by at desc, partition, "offset" desc limit $2`,
      [filter.tenant ?? null, filter.limit],
    );
    return rows.map((r) => ({
      id: `${r.partition}:${r.offset}`,
      at: new Date(r.at).toISOString(),
      service: r.service,
      actor: r.actor,
      ...(r.tenant ? { tenant: r.tenant } : {}),
      action: r.action,
      ...(r.target ? { target: r.target } : {}),
      outcome: r.outcome,
      details: r.details,
    }));
  }
}
