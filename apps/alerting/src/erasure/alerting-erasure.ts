import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { Pool } from 'pg';
import { inTransaction, PG_POOL, SubjectErasureLog } from '@headroom/database';
import type { RecordPublisher } from '@headroom/kafka';
import { LOGGER, type Logger } from '@headroom/runtime';
import { CONTROL_READY, DurableSubjectErasures, ErasureParticipant, PUBLISHER, TenantDirectory, type ErasureOutcome, SubjectErasures } from '@headroom/tenancy';
import { RULE_STATE_STORE, type RuleStateStore } from '../rules/rule-state-store';
import { AlertingService } from '../alerting.service';

/** alerting's tables, and the column that can carry a subject's pseudonym (a label value, or a group key or payload built from labels). */
const SUBJECT_COLUMNS: readonly [table: string, column: string][] = [
  ['alerting.alerts', 'labels::text'],
  ['alerting.groups', 'group_key || state::text'],
  ['alerting.outbox', 'group_key || payload::text'],
  ['alerting.threads', 'group_key || thread::text'],
];

/**
 * alerting's part of the erasure saga. A subject: alert rows, dispatch groups, queued or sent
 * notifications and chat threads in which its pseudonym appears (as a label value, in a group key or
 * a rendered payload). Pseudonyms are `u_` + 43 base64url characters, so a substring match on the
 * JSON text finds them and nothing else. Silences are written by people and name no subject. The
 * running rules' state drops the subject's alerts too (without resolving them: a resolution would
 * publish its labels again).
 * A tenant: the tables and the Redis rule state, counted (the tenant_erased handlers usually got there first).
 */
@Injectable()
export class AlertingErasure implements OnModuleInit, OnApplicationShutdown {
  private readonly participant: ErasureParticipant;
  /** Survives restarts: transitions replayed after one still name the subject. */
  private readonly erased: DurableSubjectErasures;

  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(RULE_STATE_STORE) private readonly ruleState: RuleStateStore,
    @Inject(AlertingService) private readonly evaluation: AlertingService,
    @Inject(SubjectErasures) erasedSubjects: SubjectErasures,
    @Inject(TenantDirectory) directory: TenantDirectory,
    @Inject(PUBLISHER) publisher: RecordPublisher,
    @Inject(LOGGER) logger: Logger,
    @Inject(CONTROL_READY) ready: () => Promise<void>,
  ) {
    this.erased = new DurableSubjectErasures(erasedSubjects, new SubjectErasureLog(pool, 'alerting'), directory, logger);
    this.participant = new ErasureParticipant('alerting', directory, publisher, { subject: (t, s) => this.subject(t, s), tenant: (t) => this.tenant(t) }, logger, { ready });
  }

  /** Before the dispatcher consumes (at bootstrap): subjects erased before a restart stay erased. */
  async onModuleInit(): Promise<void> {
    await this.erased.load();
  }

  onApplicationShutdown(): void {
    this.participant.stop();
  }

  async subject(tenant: string, pseudonym: string): Promise<ErasureOutcome> {
    const deleted: Record<string, number> = {};
    // Transitions already on their way (published before this) are dropped by the dispatcher from now on.
    const at = Date.now();
    await this.erased.add(tenant, pseudonym, at);
    // The rule state first: an alert still in it would resolve later and publish the subject's labels again.
    deleted['redis:rule_state'] = await this.evaluation.forgetSubject(tenant, pseudonym);
    await inTransaction(this.pool, async (db) => {
      for (const [table, column] of SUBJECT_COLUMNS) {
        deleted[table] = (await db.query(`delete from ${table} where tenant = $1 and strpos(${column}, $2) > 0`, [tenant, pseudonym])).rowCount ?? 0;
      }
    });
    return {
      deleted,
      left: [
        {
          store: 'kafka:headroom.alerts.v1',
          reason: 'alert transitions already published carry the subject’s labels; they expire with the topic’s retention (30 days)',
        },
        this.erased.left('alerting.erased_subjects', at, 'transitions replayed from Kafka are not paged again'),
      ],
    };
  }

  async tenant(tenant: string): Promise<ErasureOutcome> {
    const deleted: Record<string, number> = {};
    await inTransaction(this.pool, async (db) => {
      for (const table of ['alerting.alerts', 'alerting.groups', 'alerting.outbox', 'alerting.threads', 'alerting.silences']) {
        deleted[table] = (await db.query(`delete from ${table} where tenant = $1`, [tenant])).rowCount ?? 0;
      }
    });
    deleted['redis:rule_state'] = await this.ruleState.eraseTenant(tenant);
    return { deleted, left: [] };
  }
}
