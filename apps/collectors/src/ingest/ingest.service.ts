import { Inject, Injectable } from '@nestjs/common';
import { Counter, type Registry } from 'prom-client';
import {
  resolveTenantLimits,
  seriesId,
  seriesKey,
  validateIngestBatch,
  type IngestBatch,
  type MetricPoint,
  type PointIssue,
  type TelemetryBatchMessage,
  type TenantLimits,
} from '@headroom/contracts';
import { PublishAbortedError, type OutgoingRecord } from '@headroom/kafka';
import { pseudonymiseEvent, splitTelemetryBatch, telemetryRecords } from '@headroom/publisher';
import { LOGGER, METRICS, type Logger } from '@headroom/runtime';
import { TenantDirectory } from '@headroom/tenancy';
import { ActiveSeriesCache, TenantAdmission } from '../limits/tenant-admission';
import { IdempotencyStore } from '../limits/idempotency';
import { DiscardCounters } from './discards';

export const TELEMETRY_SINK = Symbol('TELEMETRY_SINK');
export const DEPLOYMENT_LIMITS = Symbol('DEPLOYMENT_LIMITS');
export const PUBLISH_TIMEOUT_MS = Symbol('PUBLISH_TIMEOUT_MS');

/**
 * Where accepted batches go: the telemetry topic in production, an in-memory list in unit specs.
 * An abort while the records still wait for their send must reject with PublishAbortedError and
 * send nothing; once sent, the publish settles with the send's outcome.
 */
export interface TelemetrySink {
  publish(records: OutgoingRecord<typeof TelemetryBatchMessage>[], signal?: AbortSignal): Promise<void>;
}

/** The broker did not acknowledge in time; `settled` says later whether the batch got in after all. */
class PublishTimeout extends Error {
  batchId = '';

  constructor(
    readonly sent: boolean,
    readonly settled: Promise<boolean>,
  ) {
    super('publish timed out');
  }
}

export interface Accepted {
  batchId: string;
  accepted: { points: number; events: number };
}

/** Why a batch was refused, whole: nothing of it was published, counted as active, or spent from the rate. */
export interface Refusal {
  status: 400 | 409 | 429 | 503;
  error: string;
  message: string;
  issues?: PointIssue[];
  retryAfterSeconds?: number;
}

export type IngestOutcome =
  | { ok: true; status: 202; body: Accepted; replayed: boolean }
  /** `inDoubt`: the batch was handed to Kafka but not acknowledged in time; `settled` tells whether it got in. */
  | { ok: false; refusal: Refusal; inDoubt?: { answer: Accepted; settled: Promise<boolean> } };

const raiseHint = (tenant: string) => `raise it per tenant via control: PATCH /v1/tenants/${tenant}/limits`;

/**
 * The ingest edge after authentication, for every way in (HTTP today; OTLP and remote_write decode
 * to the same body): idempotency, validation with the tenant's limits and the edge's clock,
 * the shared rate and active-series limits, then publishing. A batch is accepted whole (and
 * durably published before the answer) or refused whole with every problem listed.
 */
@Injectable()
export class IngestService {
  private readonly accepted: Counter<'tenant' | 'kind'>;

  constructor(
    @Inject(TELEMETRY_SINK) private readonly sink: TelemetrySink,
    @Inject(TenantDirectory) private readonly directory: TenantDirectory,
    @Inject(TenantAdmission) private readonly admission: TenantAdmission,
    @Inject(ActiveSeriesCache) private readonly seriesCache: ActiveSeriesCache,
    @Inject(IdempotencyStore) private readonly idempotency: IdempotencyStore,
    @Inject(DiscardCounters) private readonly discards: DiscardCounters,
    @Inject(DEPLOYMENT_LIMITS) private readonly deploymentLimits: Partial<TenantLimits>,
    @Inject(PUBLISH_TIMEOUT_MS) private readonly publishTimeoutMs: number,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(METRICS) metrics: Registry,
  ) {
    this.accepted = new Counter({
      name: 'headroom_ingest_accepted_total',
      help: 'Points and events accepted and durably published, per tenant.',
      labelNames: ['tenant', 'kind'],
      registers: [metrics],
    });
  }

  limitsOf(tenant: string): TenantLimits {
    return resolveTenantLimits(this.directory.tenant(tenant)?.limits, this.deploymentLimits);
  }

  async submit(tenant: string, body: unknown, opts: { traceparent?: string; idempotencyKey?: string; source?: string } = {}): Promise<IngestOutcome> {
    const key = opts.idempotencyKey;
    if (key !== undefined) {
      let claim;
      try {
        claim = await this.idempotency.claim(tenant, key);
      } catch (err) {
        return this.unavailable(tenant, err);
      }
      if (claim.state === 'done') return { ok: true, status: 202, body: claim.answer.body as Accepted, replayed: true };
      if (claim.state === 'in_flight') {
        this.discards.requests.inc({ tenant, reason: 'idempotency_conflict' });
        return { ok: false, refusal: { status: 409, error: 'conflict', message: 'a request with this Idempotency-Key is still being processed (or its batch is in doubt while Kafka is slow); retry later with the same key', retryAfterSeconds: 1 } };
      }
    }
    let outcome: IngestOutcome;
    try {
      outcome = await this.process(tenant, body, opts);
    } catch (err) {
      if (key !== undefined) await this.idempotency.release(tenant, key).catch(() => undefined);
      throw err;
    }
    if (key !== undefined && !outcome.ok && outcome.inDoubt) {
      // The batch is in a request the broker has not answered: keep the key claimed (a retry gets 409)
      // until that request settles, then store the 202 it earned or release the key.
      const { answer, settled } = outcome.inDoubt;
      void settled.then(async (published) => {
        if (published) await this.idempotency.complete(tenant, key, { status: 202, body: answer }).catch(() => undefined);
        else await this.idempotency.release(tenant, key).catch(() => undefined);
      });
      return outcome;
    }
    if (key !== undefined) {
      if (outcome.ok) await this.idempotency.complete(tenant, key, { status: 202, body: outcome.body }).catch((err: Error) => this.logger.warn({ tenant, err: err.message }, 'idempotency answer not stored'));
      else await this.idempotency.release(tenant, key).catch(() => undefined);
    }
    return outcome;
  }

  private async process(tenant: string, body: unknown, opts: { traceparent?: string; source?: string }): Promise<IngestOutcome> {
    const limits = this.limitsOf(tenant);
    const checked = validateIngestBatch(body, { limits, now: Date.now(), tenant });
    if (!checked.ok) {
      this.discards.discard(tenant, checked.discardedPoints, checked.discardedEvents);
      const total = checked.issues.length + checked.omittedIssues;
      return {
        ok: false,
        refusal: {
          status: 400,
          error: 'invalid_request',
          message:
            total > checked.issues.length
              ? `${total} problems; the first ${checked.issues.length} are listed. The batch was refused whole: fix them and resend it`
              : `${total} problem${total === 1 ? '' : 's'}; the batch was refused whole: fix ${total === 1 ? 'it' : 'them'} and resend it`,
          issues: checked.issues,
        },
      };
    }
    const batch = checked.batch;
    const cost = batch.points.length + batch.events.length;

    // One seriesKey per point: the series limit and the shard key both use it.
    const keys = batch.points.map((p) => seriesKey(p.name, p.labels));
    const firstOf = new Map<string, MetricPoint>();
    keys.forEach((k, i) => firstOf.has(k) || firstOf.set(k, batch.points[i]));
    const unconfirmed = this.seriesCache.unconfirmed(tenant, firstOf.keys());
    const ids = unconfirmed.map((k) => seriesId(firstOf.get(k)!.name, firstOf.get(k)!.labels));

    let decision;
    try {
      decision = await this.admission.admit(tenant, cost, ids, limits);
    } catch (err) {
      return this.unavailable(tenant, err, batch);
    }
    if (!decision.admitted) {
      const reason = decision.limit === 'series' ? 'per_user_series_limit' : 'rate_limited';
      this.discards.discard(tenant, [[reason, batch.points.length]], [[reason, batch.events.length]]);
      if (decision.limit === 'burst') {
        return { ok: false, refusal: { status: 429, error: 'rate_limited', message: `a batch of ${cost} points and events is over the tenant limit burst=${limits.burst}: split it, or ${raiseHint(tenant)}` } };
      }
      if (decision.limit === 'rate') {
        const retryAfterSeconds = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
        return {
          ok: false,
          refusal: {
            status: 429,
            error: 'rate_limited',
            message: `over the tenant limit ratePerSecond=${limits.ratePerSecond} (burst=${limits.burst}) points and events per second, across replicas; retry after ${retryAfterSeconds}s, or ${raiseHint(tenant)}`,
            retryAfterSeconds,
          },
        };
      }
      return {
        ok: false,
        refusal: {
          status: 429,
          error: 'series_limit',
          message: `this batch has ${decision.newSeries} new series; with ${decision.active} active it is over the tenant limit maxActiveSeries=${limits.maxActiveSeries} (a series is active for ${Math.round(this.admission.idleMs / 60_000)} min after its last point): ${raiseHint(tenant)}`,
        },
      };
    }
    this.seriesCache.confirm(tenant, unconfirmed);

    let result;
    try {
      result = await this.publish(tenant, batch, keys, opts);
    } catch (err) {
      if (err instanceof PublishTimeout) return this.timedOut(tenant, batch, err);
      this.logger.error({ tenant, err: err instanceof Error ? err.message : String(err) }, 'telemetry publish failed; batch refused');
      this.discards.discard(tenant, [['publish_failed', batch.points.length]], [['publish_failed', batch.events.length]]);
      return { ok: false, refusal: { status: 503, error: 'unavailable', message: 'the telemetry topic did not acknowledge the batch; nothing was accepted, retry shortly', retryAfterSeconds: 5 } };
    }
    return { ok: true, status: 202, body: { batchId: result.batchId, accepted: { points: batch.points.length, events: batch.events.length } }, replayed: false };
  }

  /**
   * Kafka did not acknowledge within INGEST_PUBLISH_TIMEOUT_MS: 503 with Retry-After. A batch still
   * queued was withdrawn (nothing of it will be published); one already in a request may still land
   * — at least once, like any retry after a timeout; an Idempotency-Key makes the retry safe.
   */
  private timedOut(tenant: string, batch: IngestBatch, t: PublishTimeout): IngestOutcome {
    const points = batch.points.length;
    const events = batch.events.length;
    this.logger.warn({ tenant, sent: t.sent, timeoutMs: this.publishTimeoutMs }, 'telemetry topic did not acknowledge in time; batch answered 503');
    const refusal: Refusal = {
      status: 503,
      error: 'unavailable',
      message: t.sent
        ? `Kafka did not acknowledge the batch within ${this.publishTimeoutMs} ms; it may still be stored: retry with the same Idempotency-Key to be sure it is counted once`
        : `Kafka did not acknowledge the batch within ${this.publishTimeoutMs} ms; nothing was accepted, retry shortly`,
      retryAfterSeconds: 2,
    };
    if (!t.sent) {
      this.discards.discard(tenant, [['publish_timeout', points]], [['publish_timeout', events]]);
      return { ok: false, refusal };
    }
    const settled = t.settled.then((published) => {
      if (published) {
        this.accepted.inc({ tenant, kind: 'point' }, points);
        this.accepted.inc({ tenant, kind: 'event' }, events);
      } else this.discards.discard(tenant, [['publish_failed', points]], [['publish_failed', events]]);
      return published;
    });
    return { ok: false, refusal, inDoubt: { answer: { batchId: t.batchId, accepted: { points, events } }, settled } };
  }

  /** Redis cannot answer: fail closed (never unlimited), with the samples counted. */
  private unavailable(tenant: string, err: unknown, batch?: IngestBatch): IngestOutcome {
    this.logger.warn({ tenant, err: err instanceof Error ? err.message : String(err) }, 'limits store unavailable; refusing');
    if (batch) this.discards.discard(tenant, [['limits_unavailable', batch.points.length]], [['limits_unavailable', batch.events.length]]);
    else this.discards.requests.inc({ tenant, reason: 'limits_unavailable' });
    return { ok: false, refusal: { status: 503, error: 'limits_unavailable', message: 'the per-tenant limits store (Redis) is unavailable; nothing was accepted, retry shortly', retryAfterSeconds: 1 } };
  }

  /**
   * Publishes one sealed record per batch (per shard for sharded tenants), after pseudonymising user
   * ids with the tenant's key; records larger than the topic allows are split by the publisher.
   * Resolves only once Kafka has acknowledged, so a 202 means durable.
   */
  private async publish(tenant: string, batch: IngestBatch, keys: string[], opts: { traceparent?: string; source?: string }): Promise<{ batchId: string; records: number }> {
    const shards = this.directory.tenant(tenant)?.shards ?? 1;
    const events = batch.events.map((e) => pseudonymiseEvent(this.directory.keyring, tenant, e));
    const { batchId, records } = telemetryRecords(
      { points: batch.points, events },
      { tenant, shards, source: opts.source ?? 'http', traceparent: opts.traceparent, seriesKeys: keys },
    );
    const abort = new AbortController();
    let sent = true;
    const publishing = this.sink.publish(records, abort.signal).catch((err: unknown) => {
      if (err instanceof PublishAbortedError) sent = false;
      throw err;
    });
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), this.publishTimeoutMs)));
    try {
      if ((await Promise.race([publishing, deadline])) === 'timeout') {
        abort.abort();
        // Aborting a queued publish rejects it at once; one in flight keeps going.
        const settled = publishing.then(
          () => true,
          () => false,
        );
        await Promise.race([settled, new Promise((r) => setImmediate(r))]);
        throw Object.assign(new PublishTimeout(sent, settled), { batchId });
      }
    } finally {
      clearTimeout(timer);
    }
    this.accepted.inc({ tenant, kind: 'point' }, batch.points.length);
    this.accepted.inc({ tenant, kind: 'event' }, batch.events.length);
    return { batchId, records: records.length };
  }
}

/** Shared with the publisher library (libs/publisher/src/telemetry-records.ts); re-exported for existing imports. */
export { splitTelemetryBatch };
