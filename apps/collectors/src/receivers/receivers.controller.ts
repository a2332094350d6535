import { HttpException, Inject, Post, Controller, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { MAX_EVENTS_PER_BATCH, MAX_POINTS_PER_BATCH, type IngestBatch } from '@headroom/contracts';
import { DiscardCounters } from '../ingest/discards';
import { principalOf } from '../ingest/ingest-edge';
import { IngestService, type Accepted } from '../ingest/ingest.service';
import { IDEMPOTENCY_KEY_RE } from '../limits/idempotency';
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
  async receive(@Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<unknown> {
    const path = request.url.split('?')[0];
    const receiver = RECEIVERS.find((r) => r.path === path);
    if (!receiver) throw new HttpException({ error: 'not_found', message: `no receiver at ${path}` }, 404);
    const principal = principalOf(request);
    if (!principal) throw new HttpException({ error: 'unauthorized', message: 'a valid ingest API key is required (Authorization: Bearer hr_...)' }, 401);
    const idempotencyKey = headerOf(request, 'idempotency-key');
    if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY_RE.test(idempotencyKey)) {
      throw new HttpException({ error: 'invalid_request', issues: [{ path: '(header) Idempotency-Key', message: 'must be 1-255 visible ASCII characters', reason: 'invalid_batch' }] }, 400);
    }
    const decoded = await receiver.decode(
      {
        body: request.body,
        contentType: String(request.headers['content-type'] ?? ''),
        headers: request.headers,
        tenant: principal.tenant,
        now: Date.now(),
        limits: this.ingest.limitsOf(principal.tenant),
      },
      receiver.defaultConfig,
    );
    if (!decoded.ok) {
      const { status, ...refusal } = decoded;
      // Its samples could not be read, so the request is what is counted.
      this.counters.requests.inc({ tenant: principal.tenant, reason: refusal.error });
      throw new HttpException(refusal, status);
    }
    if (decoded.discarded) this.counters.discard(principal.tenant, Object.entries(decoded.discarded));
    const traceparent = headerOf(request, 'traceparent');
    const trace = traceparent && /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/.test(traceparent) ? traceparent : undefined;
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
      const outcome = await this.ingest.submit(principal.tenant, part, { traceparent: trace, idempotencyKey: partKey, source: receiver.type });
      if (!outcome.ok) {
        const { status, retryAfterSeconds, ...refusal } = outcome.refusal;
        if (retryAfterSeconds) void reply.header('Retry-After', String(retryAfterSeconds));
        throw new HttpException(i === 0 ? refusal : { ...refusal, message: `${refusal.message} (part ${i + 1} of ${parts.length}: the ${accepted.accepted.points} points before it were accepted)` }, status);
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

function headerOf(request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name];
  return Array.isArray(v) ? v[0] : v;
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
