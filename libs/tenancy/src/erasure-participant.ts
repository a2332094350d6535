import { ErasureAckMessage, erasureRequestProblem, type ErasureAck, type ErasureLeft, type ErasureRequestRecord, type ErasureService } from '@headroom/contracts';
import type { RecordPublisher } from '@headroom/kafka';
import type { Logger } from '@headroom/runtime';
import type { TenantDirectory } from './tenant-directory';

/** What one pass over a service's stores did: counts per store, and what it could not delete with the reason. */
export interface ErasureOutcome {
  deleted: Record<string, number>;
  left: ErasureLeft[];
}

/** A service's part of the saga. Each pass must be idempotent: a request is run again after a restart. */
export interface ErasureHandler {
  /** Deletes what the service holds about one data subject (its pseudonym) of `tenant`. */
  subject(tenant: string, pseudonym: string, request: ErasureRequestRecord): Promise<ErasureOutcome>;
  /** Deletes what is left of an erased tenant (its `tenant_erased` has been applied before this runs). */
  tenant(tenant: string, request: ErasureRequestRecord): Promise<ErasureOutcome>;
}

export interface ErasureParticipantOptions {
  /** Attempts per request before giving up until the next boot re-reads it (default 8; backoff 0.5 s doubling to 30 s). */
  maxAttempts?: number;
  baseDelayMs?: number;
  /**
   * Resolves once the control topic has been read to where it was at start (CONTROL_READY). Requests
   * read before then wait for it, so that one completed meanwhile — its tombstone further on in the
   * topic, not compacted away yet — is not carried out again at every boot.
   */
  ready?: () => Promise<void>;
}

/**
 * Carries out the erasure requests control puts on the control topic and acknowledges each on
 * headroom.erasure.v1. Requests run one at a time, in topic order, so a subject erasure never
 * races a tenant erasure of the same service. A failed pass (database away) is retried with backoff;
 * after the last attempt it is logged and left for the next boot, which re-reads the request from
 * the control topic until control, having every acknowledgement, tombstones it. A request already
 * tombstoned when the boot's read of the topic ends is not run again (what must outlive it, the
 * erased subjects, is each service's suppression list).
 * Must be constructed before the control topic is read (a provider's constructor), like the other
 * `onRecord` listeners, so that no request slips by.
 */
export class ErasureParticipant {
  private queue: Promise<void>;
  private stopped = false;
  /** Requests control tombstoned: complete, every service has acknowledged them. */
  private readonly completed = new Set<string>();

  constructor(
    private readonly service: ErasureService,
    directory: TenantDirectory,
    private readonly publisher: RecordPublisher,
    private readonly handler: ErasureHandler,
    private readonly logger: Logger,
    private readonly opts: ErasureParticipantOptions = {},
  ) {
    this.queue = opts.ready ? opts.ready().catch((err: unknown) => this.logger.warn({ err: String(err) }, 'control topic not caught up; erasure requests run anyway')) : Promise.resolve();
    directory.onTombstone((key) => {
      if (key.startsWith('erasure_request/')) this.completed.add(key.slice('erasure_request/'.length));
    });
    directory.onRecord((record) => {
      if (record.kind !== 'erasure_request') return;
      const problem = erasureRequestProblem(record);
      if (problem) {
        this.logger.error({ tenant: record.tenant, requestId: record.id, problem }, 'erasure request refused');
        return;
      }
      this.queue = this.queue.then(() => this.carryOut(record));
    });
  }

  /** Resolves once every request seen so far has been carried out (or given up). */
  idle(): Promise<void> {
    return this.queue;
  }

  stop(): void {
    this.stopped = true;
  }

  private async carryOut(request: ErasureRequestRecord): Promise<void> {
    if (this.completed.has(request.id)) {
      this.logger.debug({ tenant: request.tenant, requestId: request.id }, 'erasure request already complete; not carried out again');
      return;
    }
    const max = this.opts.maxAttempts ?? 8;
    let delay = this.opts.baseDelayMs ?? 500;
    for (let attempt = 1; attempt <= max && !this.stopped; attempt++) {
      try {
        const outcome = request.scope === 'subject' ? await this.handler.subject(request.tenant, request.subject!, request) : await this.handler.tenant(request.tenant, request);
        const ack: ErasureAck = {
          requestId: request.id,
          tenant: request.tenant,
          service: this.service,
          status: outcome.left.length ? 'partial' : 'done',
          deleted: outcome.deleted,
          left: outcome.left,
          at: new Date().toISOString(),
        };
        await this.publisher.publish(ErasureAckMessage, [{ key: request.id, value: ack }]);
        // Counts and store names only: never the pseudonym in a log line.
        this.logger.info({ tenant: request.tenant, requestId: request.id, scope: request.scope, deleted: outcome.deleted, left: outcome.left.length }, 'erasure carried out and acknowledged');
        return;
      } catch (err) {
        this.logger.warn({ tenant: request.tenant, requestId: request.id, attempt, err: String(err) }, 'erasure pass failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, delay).unref());
        delay = Math.min(delay * 2, 30_000);
      }
    }
    if (!this.stopped) this.logger.error({ tenant: request.tenant, requestId: request.id }, 'erasure not carried out; the next boot re-reads the request');
  }
}
