import { Body, Controller, Headers, HttpCode, HttpException, HttpStatus, Inject, Post, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { LOGGER, type Logger } from '@headroom/runtime';
import { IDEMPOTENCY_KEY_RE } from '../limits/idempotency';
import { principalOf } from './ingest-edge';
import { IngestService } from './ingest.service';

@Controller('v1/ingest')
export class IngestController {
  constructor(
    @Inject(IngestService) private readonly ingest: IngestService,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /**
   * Accepts a JSON batch of metric points and platform events. The tenant is the API key's tenant
   * (authenticated by IngestEdge before the body was read); a `tenant` field in the body is refused.
   */
  @Post('metrics')
  @HttpCode(HttpStatus.ACCEPTED)
  metrics(
    @Req() request: FastifyRequest,
    @Headers('traceparent') traceparent: string | undefined,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Body() body: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return this.accept(request, traceparent, idempotencyKey, body, reply);
  }

  /**
   * Typed platform events only (`{ "events": [...] }`: song plays, revenue, active users, failed
   * logins, model inferences — see TelemetryBatchSchema): the same edge, limits and answers as
   * `/v1/ingest/metrics`; metric points belong there and are refused here with their path.
   */
  @Post('events')
  @HttpCode(HttpStatus.ACCEPTED)
  events(
    @Req() request: FastifyRequest,
    @Headers('traceparent') traceparent: string | undefined,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Body() body: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    if (body !== null && typeof body === 'object' && 'points' in body) {
      throw new HttpException(
        { error: 'invalid_request', message: '1 problem; the batch was refused whole', issues: [{ path: 'points', message: 'metric points go to POST /v1/ingest/metrics; this endpoint takes events only', reason: 'invalid_batch' }] },
        HttpStatus.BAD_REQUEST,
      );
    }
    return this.accept(request, traceparent, idempotencyKey, body, reply);
  }

  private async accept(request: FastifyRequest, traceparent: string | undefined, idempotencyKey: string | undefined, body: unknown, reply: FastifyReply) {
    const principal = principalOf(request);
    if (!principal) throw new HttpException({ error: 'unauthorized', message: 'a valid ingest API key is required (Authorization: Bearer hr_...)' }, HttpStatus.UNAUTHORIZED);
    if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY_RE.test(idempotencyKey)) {
      throw new HttpException(
        { error: 'invalid_request', issues: [{ path: '(header) Idempotency-Key', message: 'must be 1-255 visible ASCII characters', reason: 'invalid_batch' }] },
        HttpStatus.BAD_REQUEST,
      );
    }
    const trace = traceparent && /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/.test(traceparent) ? traceparent : undefined;
    const outcome = await this.ingest.submit(principal.tenant, body, { traceparent: trace, idempotencyKey });
    if (!outcome.ok) {
      const { status, retryAfterSeconds, ...refusal } = outcome.refusal;
      if (retryAfterSeconds) void reply.header('Retry-After', String(retryAfterSeconds));
      throw new HttpException(refusal, status);
    }
    if (outcome.replayed) void reply.header('Idempotent-Replayed', 'true');
    this.logger.debug({ tenant: principal.tenant, traceId: trace?.slice(3, 35), batchId: outcome.body.batchId, points: outcome.body.accepted.points, events: outcome.body.accepted.events }, 'batch accepted');
    return outcome.body;
  }
}
