import { Catch, HttpException, HttpStatus, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { Logger } from './logger';

interface ErrorBody {
  error: string;
  message?: string;
  issues?: { path: string; message: string }[];
  /** Also sent as the Retry-After header (429 and 503 answers). */
  retryAfterSeconds?: number;
}

const CODES: Record<number, string> = {
  400: 'invalid_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  429: 'too_many_requests',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  503: 'not_ready',
};

/**
 * One error shape for every service: `{ error, message?, issues?: [{ path, message }] }`. Errors raised
 * before a handler runs (invalid JSON, body too large, wrong content type) get it too, and a 400
 * always carries `issues`. Unexpected errors are logged and answered 500 without internals.
 */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  constructor(private readonly logger: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    let status: number = HttpStatus.INTERNAL_SERVER_ERROR;
    let body: ErrorBody = { error: 'internal', message: 'internal error' };
    if (exception instanceof HttpException) {
      status = exception.getStatus();
      const response = exception.getResponse();
      if (typeof response === 'object' && response !== null && 'error' in response && typeof response.error === 'string' && /^[a-z_]+$/.test(response.error)) {
        body = response as ErrorBody;
      } else {
        const message = typeof response === 'string' ? response : String((response as { message?: unknown }).message ?? exception.message);
        body = { error: CODES[status] ?? 'error', message };
      }
    } else if (isFastifyError(exception)) {
      status = exception.statusCode;
      body = { error: CODES[status] ?? 'error', message: exception.message };
    } else {
      this.logger.error({ err: exception instanceof Error ? exception.message : String(exception) }, 'unhandled error');
    }
    if (status === 400 && !body.issues) body = { ...body, issues: [{ path: '(root)', message: body.message ?? 'invalid request' }] };
    if ((status === 429 || status === 503) && Number.isInteger(body.retryAfterSeconds) && body.retryAfterSeconds! > 0) void reply.header('retry-after', String(body.retryAfterSeconds));
    void reply.status(status).send(body);
  }
}

function isFastifyError(e: unknown): e is { statusCode: number; message: string } {
  return typeof e === 'object' && e !== null && typeof (e as { statusCode?: unknown }).statusCode === 'number' && (e as { statusCode: number }).statusCode < 500;
}
