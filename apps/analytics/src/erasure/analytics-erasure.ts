import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { Pool } from 'pg';
import type { ErasureRequestRecord } from '@headroom/contracts';
import { inTransaction, PG_POOL, SubjectErasureLog } from '@headroom/database';
import type { RecordPublisher } from '@headroom/kafka';
import { LOGGER, type Logger } from '@headroom/runtime';
import { CONTROL_READY, ErasureParticipant, PUBLISHER, TenantDirectory, type ErasureOutcome } from '@headroom/tenancy';
import { RESOLUTIONS } from '../windows/windows.repository';
import { WindowsService } from '../windows/windows.service';
import { DurableSubjectErasures, SubjectErasures } from '@headroom/tenancy';
import { SUBJECT_EVENTS_RETENTION_MS, SubjectEventsRepository } from './subject-events.repository';

/**
 * analytics' part of the erasure saga. A subject: its events, and every window (each resolution),
 * queued rollup and detector state of a series one of whose label values is its pseudonym. A
 * tenant: whatever the `tenant_erased` handler (WindowsService) left, counted. Deletions run queued
 * behind any flush (WindowsService.exclusive), so a flush that began before cannot write back
 * what was just deleted; later flushes drop the subject's windows from before the request.
 */
@Injectable()
export class AnalyticsErasure implements OnModuleInit, OnApplicationShutdown {
  private readonly participant: ErasureParticipant;
  private readonly erased: DurableSubjectErasures;
  private timer: NodeJS.Timeout | undefined;
  private markMigrated!: () => void;
  private readonly migrated = new Promise<void>((resolve) => (this.markMigrated = resolve));

  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(WindowsService) private readonly windows: WindowsService,
    @Inject(SubjectEventsRepository) private readonly events: SubjectEventsRepository,
    @Inject(SubjectErasures) erasures: SubjectErasures,
    @Inject(TenantDirectory) directory: TenantDirectory,
    @Inject(PUBLISHER) publisher: RecordPublisher,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(CONTROL_READY) ready: () => Promise<void>,
  ) {
    this.erased = new DurableSubjectErasures(erasures, new SubjectErasureLog(pool, 'analytics'), directory, logger);
    this.participant = new ErasureParticipant('analytics', directory, publisher, { subject: (t, s, r) => this.subject(t, s, r), tenant: (t) => this.tenant(t) }, logger, { ready });
  }

  async onModuleInit(): Promise<void> {
    await this.events.migrate();
    // Before any telemetry is consumed (consumers start at bootstrap): subjects erased before a restart stay erased.
    await this.erased.load();
    this.markMigrated();
    this.timer = setInterval(() => void this.prune(), 3600_000);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    this.participant.stop();
    if (this.timer) clearInterval(this.timer);
  }

  private async prune(): Promise<void> {
    const now = Date.now();
    await this.erased.prune(now).catch((err) => this.logger.warn({ err: String(err) }, 'could not prune the suppression list'));
    await this.events.prune(now - SUBJECT_EVENTS_RETENTION_MS).catch((err) => this.logger.warn({ err: String(err) }, 'could not prune subject events'));
  }

  async subject(tenant: string, pseudonym: string, request: ErasureRequestRecord): Promise<ErasureOutcome> {
    // First, so that nothing from before the request is stored again while the delete runs.
    await this.erased.add(tenant, pseudonym, Date.parse(request.requestedAt));
    await this.migrated;
    return this.windows.exclusive(async () => {
      const deleted: Record<string, number> = { 'analytics.subject_events': await this.events.deleteSubject(tenant, pseudonym) };
      await inTransaction(this.pool, async (db) => {
        const series = new Set<string>();
        for (const r of RESOLUTIONS) {
          // A seq scan of the tenant's windows per resolution: erasures are rare, and no index on label values is worth its write cost.
          const res = await db.query<{ series_id: string }>(
            `delete from ${r.table} where tenant = $1 and exists (select 1 from jsonb_each_text(labels) l where l.value = $2) returning series_id`,
            [tenant, pseudonym],
          );
          deleted[r.table] = res.rowCount ?? 0;
          for (const row of res.rows) series.add(row.series_id);
        }
        const ids = [...series];
        deleted['analytics.rollup_queue'] = (await db.query('delete from analytics.rollup_queue where tenant = $1 and series_id = any($2::text[])', [tenant, ids])).rowCount ?? 0;
        deleted['analytics.detector_state'] = (await db.query('delete from analytics.detector_state where tenant = $1 and series_id = any($2::text[])', [tenant, ids])).rowCount ?? 0;
      });
      return { deleted, left: [this.erased.left('analytics.erased_subjects', Date.parse(request.requestedAt), 'records replayed from Kafka are not stored again')] };
    });
  }

  /** Runs after the tenant_erased handler's own delete (same queue): what it counts is what that one missed. */
  async tenant(tenant: string): Promise<ErasureOutcome> {
    await this.migrated;
    return this.windows.exclusive(async () => {
      const deleted: Record<string, number> = { 'analytics.subject_events': await this.events.deleteTenant(tenant) };
      await inTransaction(this.pool, async (db) => {
        for (const r of RESOLUTIONS) deleted[r.table] = (await db.query(`delete from ${r.table} where tenant = $1`, [tenant])).rowCount ?? 0;
        for (const table of ['analytics.progress', 'analytics.rollup_queue', 'analytics.detector_state']) {
          deleted[table] = (await db.query(`delete from ${table} where tenant = $1`, [tenant])).rowCount ?? 0;
        }
      });
      return { deleted, left: [] };
    });
  }
}
