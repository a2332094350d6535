import { HttpException, HttpStatus } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { IDEMPOTENCY_KEY_RE } from '../limits/idempotency';
import { principalOf } from './ingest-edge';
import type { Refusal } from './ingest.service';

const TRACEPARENT_RE = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** What every way in reads from an ingest request before its body: the tenant, the trace and the client's idempotency key. */
export interface IngestRequest {
  tenant: string;
  traceparent?: string;
  idempotencyKey?: string;
}

function header(request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * The request's tenant (authenticated by IngestEdge before the body was read), its W3C trace
 * context when well formed, and its Idempotency-Key, refused with 400 when malformed.
 */
export function ingestRequest(request: FastifyRequest): IngestRequest {
  const principal = principalOf(request);
  if (!principal) throw new HttpException({ error: 'unauthorized', message: 'a valid ingest API key is required (Authorization: Bearer hr_...)' }, HttpStatus.UNAUTHORIZED);
  const idempotencyKey = header(request, 'idempotency-key');
  if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY_RE.test(idempotencyKey)) {
    throw new HttpException(
      { error: 'invalid_request', issues: [{ path: '(header) Idempotency-Key', message: 'must be 1-255 visible ASCII characters', reason: 'invalid_batch' }] },
      HttpStatus.BAD_REQUEST,
    );
  }
  const traceparent = header(request, 'traceparent');
  return { tenant: principal.tenant, traceparent: traceparent && TRACEPARENT_RE.test(traceparent) ? traceparent : undefined, idempotencyKey };
}

/** The edge's refusal as the HTTP answer: its status, `Retry-After` when it has one, and its body. */
export function refusalError(refusal: Refusal, reply: FastifyReply, body: (r: Omit<Refusal, 'status' | 'retryAfterSeconds'>) => object = (r) => r): HttpException {
  const { status, retryAfterSeconds, ...rest } = refusal;
  if (retryAfterSeconds) void reply.header('Retry-After', String(retryAfterSeconds));
  return new HttpException(body(rest), status);
}
