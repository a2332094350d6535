import { Body, Controller, Headers, HttpCode, HttpException, HttpStatus, Inject, Post, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { IngestLimiter } from '../limits/ingest-limiter';
import { IngestBatchSchema } from '@headroom/contracts';
import { LOGGER, parseBody, READINESS, type Logger, type Readiness } from '@headroom/runtime';
import { bearerToken, TenantDirectory } from '@headroom/tenancy';
import { IngestService } from './ingest.service';

@Controller('v1/ingest')
export class IngestController {
  constructor(
    @Inject(IngestService) private readonly ingest: IngestService,
    @Inject(TenantDirectory) private readonly directory: TenantDirectory,
    @Inject(READINESS) private readonly readiness: Readiness,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(IngestLimiter) private readonly limiter: IngestLimiter,
  ) {}

  /**
   * Accepts a JSON batch of metric points and platform events. The tenant is the API key's tenant;
   * a `tenant` field in the body is refused (400), never trusted.
   */
  @Post('metrics')
  @HttpCode(HttpStatus.ACCEPTED)
  async metrics(
    @Headers('authorization') authorization: string | undefined,
    @Headers('traceparent') traceparent: string | undefined,
    @Body() body: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    if (!(await this.readiness.isReady())) {
      throw new HttpException({ error: 'not_ready', message: 'tenants are still loading; retry shortly' }, HttpStatus.SERVICE_UNAVAILABLE);
    }
    const principal = this.directory.authenticate(bearerToken(authorization), 'ingest');
    if (!principal) {
      throw new HttpException({ error: 'unauthorized', message: 'a valid ingest API key is required (Authorization: Bearer hr_...)' }, HttpStatus.UNAUTHORIZED);
    }
    const batch = parseBody(IngestBatchSchema, body);
    const cost = batch.points.length + batch.events.length;
    const decision = this.limiter.take(principal.tenant, cost, this.directory.tenant(principal.tenant)?.limits);
    if (!decision.allowed) {
      // Refused whole: nothing of this batch is published, so a retry cannot double-count.
      if (decision.retryAfterSeconds > 0) void reply.header('Retry-After', String(decision.retryAfterSeconds));
      throw new HttpException(
        {
          error: 'rate_limited',
          message:
            decision.retryAfterSeconds > 0
              ? `tenant ingest limit of ${decision.limits.ratePerSecond} points/s (burst ${decision.limits.burst}) reached; retry after ${decision.retryAfterSeconds}s`
              : `a batch of ${cost} points exceeds the tenant's burst of ${decision.limits.burst}: split it`,
        },
        HttpStatus.TOO_MANY_REQUESTS,
      );
    }
    const trace = traceparent && /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/.test(traceparent) ? traceparent : undefined;
    const result = await this.ingest.accept(principal.tenant, batch, trace);
    this.logger.debug({ tenant: principal.tenant, traceId: trace?.slice(3, 35), batchId: result.batchId, points: batch.points.length }, 'batch accepted');
    return { batchId: result.batchId, accepted: { points: batch.points.length, events: batch.events.length } };
  }
}
