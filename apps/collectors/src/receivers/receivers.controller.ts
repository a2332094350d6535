import { HttpException, Inject, Post, Controller, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { principalOf } from '../ingest/ingest-edge';
import { IngestService } from '../ingest/ingest.service';
import { IDEMPOTENCY_KEY_RE } from '../limits/idempotency';
import { RECEIVERS } from './registry';

/**
 * Serves every registered receiver's path: the edge has authenticated the request before its body
 * was read; the receiver translates the body; the ingest service applies the tenant's limits and
 * publishes, exactly as for `POST /v1/ingest/metrics`.
 */
@Controller()
export class ReceiversController {
  constructor(@Inject(IngestService) private readonly ingest: IngestService) {}

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
      { body: request.body, contentType: String(request.headers['content-type'] ?? ''), headers: request.headers, tenant: principal.tenant, now: Date.now() },
      receiver.defaultConfig,
    );
    if (!decoded.ok) {
      const { status, ...refusal } = decoded;
      throw new HttpException(refusal, status);
    }
    const traceparent = headerOf(request, 'traceparent');
    const trace = traceparent && /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/.test(traceparent) ? traceparent : undefined;
    const outcome = await this.ingest.submit(principal.tenant, decoded.batch, { traceparent: trace, idempotencyKey, source: receiver.type });
    if (!outcome.ok) {
      const { status, retryAfterSeconds, ...refusal } = outcome.refusal;
      if (retryAfterSeconds) void reply.header('Retry-After', String(retryAfterSeconds));
      throw new HttpException(refusal, status);
    }
    if (!receiver.respond) {
      void reply.code(202);
      return outcome.body;
    }
    const answer = receiver.respond(outcome.body, String(request.headers['content-type'] ?? ''));
    void reply.code(answer.status);
    if (answer.contentType) void reply.header('content-type', answer.contentType);
    return answer.body ?? '';
  }
}

function headerOf(request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
