import { HttpException, Inject, Injectable, NotFoundException } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { HEADROOM_SERVICES, Topics, type ErasureAck, type ErasureLeft, type ErasureRequestRecord } from '@headroom/contracts';
import { CryptoError } from '@headroom/crypto';
import { inTransaction, PG_POOL } from '@headroom/database';
import { LOGGER, type Logger } from '@headroom/runtime';
import { TenantDirectory } from '@headroom/tenancy';
import { auditEntry, ControlOutbox, controlEntry, tombstoneEntry } from '../outbox/control-outbox';
import { ErasureRepository, type ErasureAckRow } from './erasure.repository';

/** Every service acknowledges every erasure: each may hold the tenant's data. */
export const ERASURE_SERVICES = HEADROOM_SERVICES;

/** Topics whose records can carry a subject's pseudonym (telemetry events; labels of windows, signals and alerts), sealed under the tenant's key. */
const SEALED_TOPICS = [Topics.telemetry, Topics.aggregates, Topics.signals, Topics.alerts] as const;

export interface ErasureProgress {
  id: string;
  scope: 'subject' | 'tenant';
  tenant: string;
  requestedAt: string;
  services: Record<string, Omit<ErasureAckRow, 'service'> | 'pending'>;
  complete: boolean;
  completedAt: string | null;
  left: (ErasureLeft & { service: string })[];
}

export const ERASURE_LIMITS = Symbol('ERASURE_LIMITS');
export interface ErasureLimits {
  /** Subject erasures one tenant may have open at once (CONTROL_MAX_OPEN_SUBJECT_ERASURES). */
  maxOpenSubjectErasures: number;
}

/** Seconds a tenant over its limit is told to wait: about the time a saga takes on a healthy deployment. */
const OVER_LIMIT_RETRY_AFTER_S = 30;

const retentionMs = (t: (typeof SEALED_TOPICS)[number]) => Number(t.config['retention.ms']);

/**
 * The erasure sagas. A request goes out as an `erasure_request` control record through the outbox,
 * in the transaction that stores it; each service carries it out and acknowledges on
 * headroom.erasure.v1 (ErasureConsumer → `acknowledge`). Once all five have, the request is
 * complete and its control record is tombstoned (the pseudonym then leaves the compacted topic).
 * What Kafka itself keeps is control's to report: sealed records stay until their topic's retention.
 */
@Injectable()
export class ErasureService {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(ErasureRepository) private readonly repo: ErasureRepository,
    @Inject(ControlOutbox) private readonly outbox: ControlOutbox,
    @Inject(TenantDirectory) private readonly directory: TenantDirectory,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(ERASURE_LIMITS) private readonly limits: ErasureLimits,
  ) {}

  /**
   * Erases one data subject of `tenant`, named by the user id producers send. The id is turned into
   * the tenant's pseudonym here (the key control's own directory unwrapped from the control topic) and
   * goes no further: not to Kafka, not to the database, not to the audit trail.
   */
  async requestSubject(tenant: string, userId: string, actor: string): Promise<{ id: string; duplicate?: true }> {
    const id = randomUUID();
    const existing = await inTransaction(this.pool, async (db) => {
      // The tenant row's lock makes one tenant's requests take turns (so the count below is exact);
      // other tenants' requests do not wait for them.
      const { rowCount } = await db.query('select 1 from control.tenants where id = $1 for update', [tenant]);
      if (!rowCount) throw new NotFoundException({ error: 'not_found', message: `no tenant ${tenant}` });
      let subject: string;
      try {
        subject = this.directory.keyring.pseudonymise(tenant, userId);
      } catch (err) {
        if (err instanceof CryptoError) throw new HttpException({ error: 'not_ready', message: 'the tenant’s pseudonym key is not loaded yet; retry shortly' }, 503);
        throw err;
      }
      const open = await this.repo.openSubjectRequests(db, tenant, subject);
      // The same subject asked again while its erasure runs: the running one answers for both.
      if (open.sameSubject) return open.sameSubject;
      if (open.count >= this.limits.maxOpenSubjectErasures) {
        throw new HttpException(
          {
            error: 'too_many_open_erasures',
            message: `tenant ${tenant} has ${open.count} subject erasures open, the limit is ${this.limits.maxOpenSubjectErasures}: retry once some complete`,
            limit: this.limits.maxOpenSubjectErasures,
            open: open.count,
            retryAfterSeconds: OVER_LIMIT_RETRY_AFTER_S,
          },
          429,
        );
      }
      await this.enqueue(db, { kind: 'erasure_request', id, tenant, scope: 'subject', subject, requestedAt: new Date().toISOString() }, actor);
      return undefined;
    });
    if (existing) return { id: existing, duplicate: true };
    await this.outbox.relay().catch(() => undefined);
    return { id };
  }

  /** The tenant-scope request of a tenant erasure, in the caller's transaction (TenantsService.erase), after its `tenant_erased`. */
  async requestTenantInTransaction(db: PoolClient, tenant: string, actor: string): Promise<string> {
    const id = randomUUID();
    await this.enqueue(db, { kind: 'erasure_request', id, tenant, scope: 'tenant', requestedAt: new Date().toISOString() }, actor);
    return id;
  }

  private async enqueue(db: PoolClient, record: ErasureRequestRecord, actor: string): Promise<void> {
    await this.repo.insertRequest(db, { id: record.id, tenant: record.tenant, scope: record.scope, subject: record.subject, requestedAt: record.requestedAt, requestedBy: actor });
    await this.outbox.enqueue(db, [controlEntry(record), auditEntry({ action: `erasure.request`, actor, tenant: record.tenant, target: record.id, details: { scope: record.scope } })]);
  }

  /** One service's acknowledgement. The last of the five completes the request and tombstones its control record. */
  async acknowledge(ack: ErasureAck): Promise<void> {
    const completed = await inTransaction(this.pool, async (db) => {
      const request = await this.repo.request(ack.requestId, db, true);
      // An ack of a request this control never stored (another deployment on the same cluster, a forged ack): ignored.
      if (!request || request.tenant !== ack.tenant) return false;
      await this.repo.upsertAck(db, ack);
      if (request.completedAt) return false;
      const acked = new Set((await this.repo.acks(ack.requestId, db)).map((a) => a.service));
      if (!ERASURE_SERVICES.every((s) => acked.has(s))) return false;
      const at = new Date().toISOString();
      await this.repo.markCompleted(db, ack.requestId, at);
      await this.outbox.enqueue(db, [
        tombstoneEntry(`erasure_request/${ack.requestId}`),
        auditEntry({ action: 'erasure.complete', actor: 'control', tenant: ack.tenant, target: ack.requestId, details: { scope: request.scope } }),
      ]);
      return true;
    });
    if (completed) {
      this.logger.info({ tenant: ack.tenant, requestId: ack.requestId }, 'erasure complete: every service acknowledged');
      await this.outbox.relay().catch(() => undefined);
    }
  }

  /** Progress of a request; a tenant credential sees only its own tenant's (another's is not found). */
  async progress(id: string, callerTenant: string | undefined): Promise<ErasureProgress> {
    const request = await this.repo.request(id);
    if (!request || (callerTenant !== undefined && callerTenant !== request.tenant)) throw new NotFoundException({ error: 'not_found', message: `no erasure ${id}` });
    const acks = await this.repo.acks(id);
    const services: ErasureProgress['services'] = {};
    const left: ErasureProgress['left'] = [];
    for (const s of ERASURE_SERVICES) {
      const ack = acks.find((a) => a.service === s);
      if (!ack) {
        services[s] = 'pending';
        continue;
      }
      const { service: _service, ...rest } = ack;
      services[s] = rest;
      for (const l of ack.left) left.push({ service: s, ...l });
    }
    for (const l of this.kafkaLeft(request.scope, request.requestedAt)) left.push({ service: 'kafka', ...l });
    return { id, scope: request.scope, tenant: request.tenant, requestedAt: request.requestedAt, services, complete: request.completedAt !== null, completedAt: request.completedAt, left };
  }

  /**
   * What the topics keep. Records cannot be deleted one by one from Kafka; they go when their segment
   * passes the topic's retention. A subject's records stay readable with the tenant's key until then;
   * a tenant's are unreadable at once, its keys being destroyed.
   */
  private kafkaLeft(scope: 'subject' | 'tenant', requestedAt: string): ErasureLeft[] {
    return SEALED_TOPICS.map((t) => {
      const until = new Date(Date.parse(requestedAt) + retentionMs(t)).toISOString();
      return {
        store: `kafka:${t.name}`,
        reason:
          scope === 'subject'
            ? `records carrying the pseudonym stay, sealed under the tenant’s data key, until the topic’s retention: gone by ${until}`
            : `records stay until the topic’s retention (gone by ${until}) but cannot be decrypted: the tenant’s data keys were destroyed`,
      };
    });
  }
}
