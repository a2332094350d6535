import { HttpException, Inject, Post, Controller, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { MAX_EVENTS_PER_BATCH, MAX_POINTS_PER_BATCH, type IngestBatch } from '@headroom/contracts';
import { DiscardCounters } from '../ingest/discards';
import { ingestRequest, refusalError } from '../ingest/ingest-request';
import { IngestService, type Accepted } from '../ingest/ingest.service';
import { Requires } from '@headroom/tenancy';
import { RECEIVERS } from './registry';

/**
 * Serves every registered receiver's path: the edge has authenticated the request before its body
 * was read; the receiver translates the body; the ingest service applies the tenant's limits and
 * publishes, exactly as for `POST /v1/ingest/metrics`.
 */
@Controller()
export class ReceiversController {
  constructor(
    @Inject(IngestService) private readonly ingest: IngestService,
    @Inject(DiscardCounters) private readonly counters: DiscardCounters,
  ) {}

  @Post('*')
  @Requires({ scope: 'ingest' })
  async receive(@Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<unknown> {
    const path = request.url.split('?')[0];
    const receiver = RECEIVERS.find((r) => r.path === path);
    if (!receiver) throw new HttpException({ error: 'not_found', message: `no receiver at ${path}` }, 404);
    const { tenant, traceparent, idempotencyKey } = ingestRequest(request);
    const decoded = await receiver.decode(
      {
        body: request.body,
        contentType: String(request.headers['content-type'] ?? ''),
        headers: request.headers,
        tenant,
        now: Date.now(),
        limits: this.ingest.limitsOf(tenant),
      },
      receiver.defaultConfig,
    );
    if (!decoded.ok) {
      const { status, ...refusal } = decoded;
      // Its samples could not be read, so the request is what is counted.
      this.counters.requests.inc({ tenant, reason: refusal.error });
      throw new HttpException(refusal, status);
    }
    if (decoded.discarded) this.counters.discard(tenant, Object.entries(decoded.discarded));
    // A request larger than the edge's batch (MAX_POINTS_PER_BATCH) goes in as several batches, in
    // order; the first refused one is the answer (the ones before it stay accepted: a client retry
    // may count them twice, unless it sent an Idempotency-Key, which is derived per part).
    // A receiver that drops samples itself may have nothing left (or a request with none, such as
    // remote_write's metadata-only ones): accepted with nothing to publish. Without `discarded`, an
    // empty batch goes to the edge as before (400).
    const parts = splitBatch(decoded.batch, decoded.discarded !== undefined);
    const accepted: Accepted = { batchId: '', accepted: { points: 0, events: 0 } };
    for (const [i, part] of parts.entries()) {
      const partKey = idempotencyKey === undefined || i === 0 ? idempotencyKey : `${idempotencyKey}#${i}`;
      const outcome = await this.ingest.submit(tenant, part, { traceparent, idempotencyKey: partKey, source: receiver.type });
      if (!outcome.ok) {
        throw refusalError(outcome.refusal, reply, (r) => (i === 0 ? r : { ...r, message: `${r.message} (part ${i + 1} of ${parts.length}: the ${accepted.accepted.points} points before it were accepted)` }));
      }
      accepted.batchId ||= outcome.body.batchId;
      accepted.accepted.points += outcome.body.accepted.points;
      accepted.accepted.events += outcome.body.accepted.events;
    }
    if (!receiver.respond) {
      void reply.code(202);
      return accepted;
    }
    const answer = receiver.respond(accepted, String(request.headers['content-type'] ?? ''), decoded.partial);
    void reply.code(answer.status);
    if (answer.contentType) void reply.header('content-type', answer.contentType);
    return answer.body ?? '';
  }
}

/**
 * The edge's batches for one decoded request: one usually, several over MAX_POINTS_PER_BATCH or
 * MAX_EVENTS_PER_BATCH, none for an empty batch when `emptyIsAccepted`.
 */
export function splitBatch(batch: IngestBatch, emptyIsAccepted = false): IngestBatch[] {
  const points = batch.points ?? [];
  const events = batch.events ?? [];
  const n = Math.max(Math.ceil(points.length / MAX_POINTS_PER_BATCH), Math.ceil(events.length / MAX_EVENTS_PER_BATCH));
  if (n <= 1) return points.length + events.length === 0 && emptyIsAccepted ? [] : [batch];
  return Array.from({ length: n }, (_, i) => ({
    points: points.slice(i * MAX_POINTS_PER_BATCH, (i + 1) * MAX_POINTS_PER_BATCH),
    events: events.slice(i * MAX_EVENTS_PER_BATCH, (i + 1) * MAX_EVENTS_PER_BATCH),
  }));
}
