import { Global, Inject, Injectable, Module, type DynamicModule, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { Pool } from 'pg';
import type { ErasureLeft } from '@headroom/contracts';
import { inTransaction, PG_POOL, SubjectErasureLog } from '@headroom/database';
import type { RecordPublisher } from '@headroom/kafka';
import { LOGGER, type Logger } from '@headroom/runtime';
import { CONTROL_READY, DurableSubjectErasures, ErasureParticipant, PUBLISHER, SubjectErasures, TenantDirectory, type ErasureOutcome } from '@headroom/tenancy';
import type { ConfiguredSink } from '../sinks/registry';

const ERASURE_SINKS = Symbol('ERASURE_SINKS');

/** Why each push sink's copy cannot be deleted from here: the stores are the operators', reached through write-only APIs. */
const SINK_LEFT: Record<string, string> = {
  remote_write: 'samples cannot be deleted through remote_write; they expire by the store’s retention, or an operator deletes the series through the store’s admin API',
  influxdb: 'points written as line protocol cannot be taken back through it; they expire by the bucket’s retention, or an operator deletes them with the bucket’s delete API',
  elasticsearch: 'documents already indexed stay in the index; they expire by its lifecycle policy, or an operator deletes them by query',
};

/**
 * exporters' part of the erasure saga. A subject: the Prometheus endpoint's series whose labels carry
 * its pseudonym, with their windows. A tenant: its series and windows, counted (the tenant_erased
 * handler usually got there first). Either way, what the enabled push sinks already delivered for
 * the tenant is outside Headroom's reach: reported in `left`, each with its reason.
 *
 * Aggregates of the subject still on the aggregates topic when the request is carried out (analytics
 * published them before its own delete) would re-create the series: the Prometheus endpoint drops
 * windows of an erased subject from before the request (SubjectErasures, kept across restarts by
 * the suppression list).
 */
@Injectable()
export class ExportersErasure implements OnModuleInit, OnApplicationShutdown {
  private readonly participant: ErasureParticipant;
  private readonly erased: DurableSubjectErasures;

  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(ERASURE_SINKS) private readonly sinks: readonly ConfiguredSink[],
    @Inject(SubjectErasures) erasures: SubjectErasures,
    @Inject(TenantDirectory) directory: TenantDirectory,
    @Inject(PUBLISHER) publisher: RecordPublisher,
    @Inject(LOGGER) logger: Logger,
    @Inject(CONTROL_READY) ready: () => Promise<void>,
  ) {
    this.erased = new DurableSubjectErasures(erasures, new SubjectErasureLog(pool, 'exporters'), directory, logger);
    this.participant = new ErasureParticipant('exporters', directory, publisher, { subject: (t, s, r) => this.subject(t, s, Date.parse(r.requestedAt)), tenant: (t) => this.tenant(t) }, logger, { ready });
  }

  /** Before aggregates are consumed (at bootstrap): subjects erased before a restart stay erased. */
  async onModuleInit(): Promise<void> {
    await this.erased.load();
  }

  onApplicationShutdown(): void {
    this.participant.stop();
  }

  async subject(tenant: string, pseudonym: string, requestedAt = Date.now()): Promise<ErasureOutcome> {
    // First: windows from before the request still on their way are dropped from now on.
    await this.erased.add(tenant, pseudonym, requestedAt);
    const deleted: Record<string, number> = {};
    await inTransaction(this.pool, async (db) => {
      const series = await db.query<{ series_id: string }>(
        `delete from exporters.prometheus_series where tenant = $1 and exists (select 1 from jsonb_each_text(coalesce(series->'labels', '{}'::jsonb)) l where l.value = $2) returning series_id`,
        [tenant, pseudonym],
      );
      const ids = series.rows.map((r) => r.series_id);
      deleted['exporters.prometheus_series'] = series.rowCount ?? 0;
      deleted['exporters.prometheus_windows'] = (await db.query('delete from exporters.prometheus_windows where tenant = $1 and series_id = any($2::text[])', [tenant, ids])).rowCount ?? 0;
    });
    return { deleted, left: [...this.sinksLeft(tenant), this.erased.left('exporters.erased_subjects', requestedAt, 'aggregates still on Kafka do not re-create its series')] };
  }

  async tenant(tenant: string): Promise<ErasureOutcome> {
    const deleted: Record<string, number> = {};
    await inTransaction(this.pool, async (db) => {
      deleted['exporters.prometheus_windows'] = (await db.query('delete from exporters.prometheus_windows where tenant = $1', [tenant])).rowCount ?? 0;
      deleted['exporters.prometheus_series'] = (await db.query('delete from exporters.prometheus_series where tenant = $1', [tenant])).rowCount ?? 0;
    });
    return { deleted, left: this.sinksLeft(tenant) };
  }

  private sinksLeft(tenant: string): ErasureLeft[] {
    return this.sinks
      .filter((s) => s.tenants === undefined || s.tenants.includes(tenant))
      .map((s) => ({ store: s.type, reason: `${s.type}: ${SINK_LEFT[s.type] ?? 'the sink’s store is written, never read back or deleted from, by Headroom'}` }));
  }
}

/** Global: the Prometheus endpoint reads the same SubjectErasures. */
@Global()
@Module({})
export class ExportersErasureModule {
  static forRoot(sinks: readonly ConfiguredSink[]): DynamicModule {
    return {
      module: ExportersErasureModule,
      providers: [{ provide: ERASURE_SINKS, useValue: sinks }, { provide: SubjectErasures, useFactory: () => new SubjectErasures() }, ExportersErasure],
      exports: [SubjectErasures],
    };
  }
}
