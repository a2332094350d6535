import type { Pool } from 'pg';
import { migrateSchema } from './transaction';

/**
 * A service's suppression list of erased data subjects, so that a restart does not forget them: the
 * in-memory list (SubjectErasures in @headroom/tenancy) drops what was on its way when a subject was
 * erased — late points, uncommitted records replayed after a crash — and control tombstones a
 * completed request, so the control topic no longer brings it back at boot.
 *
 * Each row is a tenant, a pseudonym (never the user id) and the request's time; it is kept for the
 * longest a replay can reach back (the telemetry topic's retention), then pruned, and a tenant's rows
 * go with the tenant.
 */
export class SubjectErasureLog {
  private readonly table: string;

  /** `schema`: the service's own schema (analytics, alerting…), created if missing. */
  constructor(
    private readonly pool: Pool,
    private readonly schema: string,
  ) {
    if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`invalid schema name ${schema}`);
    this.table = `${schema}.erased_subjects`;
  }

  async migrate(): Promise<void> {
    await migrateSchema(
      this.pool,
      `${this.schema}-erased-subjects`,
      `create schema if not exists ${this.schema};
       create table if not exists ${this.table} (tenant text not null, subject text not null, requested_at bigint not null, primary key (tenant, subject));
       create index if not exists erased_subjects_at on ${this.table} (requested_at);`,
    );
  }

  async record(tenant: string, subject: string, requestedAt: number): Promise<void> {
    await this.pool.query(
      `insert into ${this.table} (tenant, subject, requested_at) values ($1, $2, $3)
       on conflict (tenant, subject) do update set requested_at = greatest(${this.table}.requested_at, excluded.requested_at)`,
      [tenant, subject, requestedAt],
    );
  }

  /** Every entry requested after `since` (ms). */
  async load(since: number): Promise<{ tenant: string; subject: string; requestedAt: number }[]> {
    const { rows } = await this.pool.query<{ tenant: string; subject: string; requested_at: string }>(
      `select tenant, subject, requested_at from ${this.table} where requested_at > $1`,
      [since],
    );
    return rows.map((r) => ({ tenant: r.tenant, subject: r.subject, requestedAt: Number(r.requested_at) }));
  }

  async forgetTenant(tenant: string): Promise<number> {
    return (await this.pool.query(`delete from ${this.table} where tenant = $1`, [tenant])).rowCount ?? 0;
  }

  async prune(before: number): Promise<number> {
    return (await this.pool.query(`delete from ${this.table} where requested_at <= $1`, [before])).rowCount ?? 0;
  }
}
