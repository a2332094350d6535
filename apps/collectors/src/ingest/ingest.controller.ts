import { Body, Controller, HttpCode, HttpException, HttpStatus, Inject, Post, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { LOGGER, type Logger } from '@headroom/runtime';
import { Requires } from '@headroom/tenancy';
import { ingestRequest, refusalError } from './ingest-request';
import { IngestService } from './ingest.service';

/** API keys with the ingest scope (or admin): a read key cannot write telemetry, an ingest key cannot read it. */
@Controller('v1/ingest')
@Requires({ scope: 'ingest' })
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
    @Body() body: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return this.accept(request, body, reply);
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
    @Body() body: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    if (body !== null && typeof body === 'object' && 'points' in body) {
      throw new HttpException(
        { error: 'invalid_request', message: '1 problem; the batch was refused whole', issues: [{ path: 'points', message: 'metric points go to POST /v1/ingest/metrics; this endpoint takes events only', reason: 'invalid_batch' }] },
        HttpStatus.BAD_REQUEST,
      );
    }
    return this.accept(request, body, reply);
  }

  private async accept(request: FastifyRequest, body: unknown, reply: FastifyReply) {
    const { tenant, traceparent, idempotencyKey } = ingestRequest(request);
    const outcome = await this.ingest.submit(tenant, body, { traceparent, idempotencyKey });
    if (!outcome.ok) throw refusalError(outcome.refusal, reply);
    if (outcome.replayed) void reply.header('Idempotent-Replayed', 'true');
    this.logger.debug({ tenant, traceId: traceparent?.slice(3, 35), batchId: outcome.body.batchId, points: outcome.body.accepted.points, events: outcome.body.accepted.events }, 'batch accepted');
    return outcome.body;
  }
}
