import type { Pool } from 'pg';
import type { PlatformEvent } from '@headroom/contracts';
import { migrateSchema } from '@headroom/database';
import type { SubjectErasures } from '@headroom/tenancy';

const MIGRATION = `
create schema if not exists analytics;
create table if not exists analytics.subject_events (
  tenant text not null,
  subject text not null,
  at bigint not null,
  type text not null,
  event jsonb not null,
  src_partition int not null,
  src_offset bigint not null,
  idx int not null,
  primary key (tenant, src_partition, src_offset, idx)
);
create index if not exists subject_events_subject on analytics.subject_events (tenant, subject, at);
create index if not exists subject_events_at on analytics.subject_events (at);
`;

/** How long a subject's events are kept for the right of access (storage limitation: not forever). */
export const SUBJECT_EVENTS_RETENTION_MS = 30 * 24 * 3600_000;

export interface StoredSubjectEvent {
  at: number;
  type: string;
  event: Record<string, unknown>;
}

/**
 * What analytics keeps about data subjects: the events that carry a (pseudonymised) user id, for the
 * right of access and the erasure of a subject. Keyed by the telemetry record they came from, so a
 * replayed record is stored once.
 */
export class SubjectEventsRepository {
  constructor(
    private readonly pool: Pool,
    private readonly erasures: SubjectErasures,
  ) {}

  async migrate(): Promise<void> {
    await migrateSchema(this.pool, 'analytics-subject-events', MIGRATION);
  }

  /**
   * One statement per telemetry record, and none for a record without user events: the hot path
   * pays only where there is something to keep. Events of a subject erased since are not kept.
   */
  async record(tenant: string, events: readonly PlatformEvent[], source: { partition: number; offset: number }): Promise<number> {
    const subjects: string[] = [];
    const ats: number[] = [];
    const types: string[] = [];
    const bodies: string[] = [];
    const idxs: number[] = [];
    events.forEach((e, i) => {
      if (!('userId' in e) || this.erasures.erased(tenant, e.userId, e.timestamp)) return;
      subjects.push(e.userId);
      ats.push(e.timestamp);
      types.push(e.type);
      bodies.push(JSON.stringify(e));
      idxs.push(i);
    });
    if (subjects.length === 0) return 0;
    const res = await this.pool.query(
      `insert into analytics.subject_events (tenant, subject, at, type, event, src_partition, src_offset, idx)
       select $1, s, a, t, e, $2, $3, i from unnest($4::text[], $5::bigint[], $6::text[], $7::jsonb[], $8::int[]) as u(s, a, t, e, i)
       on conflict do nothing`,
      [tenant, source.partition, source.offset, subjects, ats, types, bodies, idxs],
    );
    return res.rowCount ?? 0;
  }

  /** The subject's events, oldest first (at most `limit`). */
  async ofSubject(tenant: string, subject: string, limit: number): Promise<StoredSubjectEvent[]> {
    const { rows } = await this.pool.query<{ at: string; type: string; event: Record<string, unknown> }>(
      'select at, type, event from analytics.subject_events where tenant = $1 and subject = $2 order by at, src_partition, src_offset, idx limit $3',
      [tenant, subject, limit],
    );
    return rows.map((r) => ({ at: Number(r.at), type: r.type, event: r.event }));
  }

  async deleteSubject(tenant: string, subject: string): Promise<number> {
    const res = await this.pool.query('delete from analytics.subject_events where tenant = $1 and subject = $2', [tenant, subject]);
    return res.rowCount ?? 0;
  }

  async deleteTenant(tenant: string): Promise<number> {
    const res = await this.pool.query('delete from analytics.subject_events where tenant = $1', [tenant]);
    return res.rowCount ?? 0;
  }

  async prune(olderThan: number): Promise<number> {
    const res = await this.pool.query('delete from analytics.subject_events where at < $1', [olderThan]);
    return res.rowCount ?? 0;
  }
}
