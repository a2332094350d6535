import { Inject, Injectable, SetMetadata, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Observable } from 'rxjs';
import type { AuditEvent } from '@headroom/contracts';
import { AuditTrail } from './audit-trail';

const NO_AUDIT = 'headroom:no-audit';

/** Marks a handler or controller whose mutating calls are data, not administration (ingest, receivers). */
export const NoAudit = () => SetMetadata(NO_AUDIT, true);

/** What the auth guard leaves on the request (only the fields the audit reads). */
export interface AuditPrincipal {
  actor: string;
  tenant?: string;
}

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Not administrative mutations, whichever service serves them: telemetry writes (the ingest edge,
 * the OTLP/HTTP and remote_write receivers) and reads that the Prometheus HTTP API sends as POST
 * (Grafana does). A path rule as well as `@NoAudit()`, so a receiver added under these paths without
 * the decorator does not turn every push into an audit event.
 */
const UNAUDITED_PATHS = [
  /^\/v1\/ingest(\/|$)/,
  /^\/v1\/otlp(\/|$)/,
  /^\/v1\/(metrics|traces|logs)$/,
  /^\/api\/v1\/(push|write)$/,
  /^\/prometheus\/api\/v1\//,
];

interface HttpRequest {
  method: string;
  url: string;
  principal?: AuditPrincipal;
  routeOptions?: { url?: string };
}

interface HttpReply {
  raw: { statusCode: number; writableFinished: boolean; once(event: 'close', cb: () => void): unknown };
}

export function auditOutcome(status: number): AuditEvent['outcome'] {
  if (status < 400) return 'success';
  return status === 401 || status === 403 ? 'denied' : 'error';
}

/**
 * Audits every mutating HTTP call (POST, PUT, PATCH, DELETE) once its answer has gone out, with the
 * actor the auth guard established (`anonymous` without one) and the status actually sent — after
 * the exception filter, so a thrown error is recorded as the 4xx/5xx the client saw.
 * Refusals by a guard never reach an interceptor (Nest runs guards first): guards report them with
 * `AuditTrail.denied`, which is bounded against floods.
 * The target is the route pattern (`POST /v1/tenants/:id/api-keys`), the concrete path goes in
 * details; never the query string or the body, where credentials and personal data live.
 */
@Injectable()
export class AuditInterceptor implements NestInterceptor {
  constructor(
    @Inject(AuditTrail) private readonly trail: AuditTrail,
    @Inject(Reflector) private readonly reflector: Reflector,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const http = context.switchToHttp();
    const req = http.getRequest<HttpRequest>();
    if (!MUTATING.has(req.method)) return next.handle();
    const path = req.url.split('?')[0];
    if (UNAUDITED_PATHS.some((p) => p.test(path))) return next.handle();
    if (this.reflector.getAllAndOverride<boolean>(NO_AUDIT, [context.getHandler(), context.getClass()])) return next.handle();
    const reply = http.getResponse<HttpReply>();
    const started = Date.now();
    reply.raw.once('close', () => {
      // 499 (nginx's "client closed request"): the client left before the answer was sent.
      const status = reply.raw.writableFinished ? reply.raw.statusCode : 499;
      const principal = req.principal;
      this.trail.record({
        actor: (principal?.actor || 'anonymous').slice(0, 128),
        ...(principal?.tenant ? { tenant: principal.tenant } : {}),
        action: `http.${req.method.toLowerCase()}`,
        target: `${req.method} ${req.routeOptions?.url ?? path}`.slice(0, 256),
        outcome: auditOutcome(status),
        details: { path: path.slice(0, 1024), status, durationMs: Date.now() - started },
      });
    });
    return next.handle();
  }
}
