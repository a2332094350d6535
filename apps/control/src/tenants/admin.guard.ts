import { createHash, timingSafeEqual } from 'node:crypto';
import { HttpException, HttpStatus, Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { AuditEventMessage } from '@headroom/contracts';
import type { RecordPublisher } from '@headroom/kafka';
import { LOGGER, type Logger } from '@headroom/runtime';
import { bearerToken, PUBLISHER } from '@headroom/tenancy';

export const ADMIN_TOKEN = Symbol('ADMIN_TOKEN');

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Operators authenticate with one bearer token, compared in constant time; refusals are audited. */
@Injectable()
export class AdminGuard implements CanActivate {
  constructor(
    @Inject(ADMIN_TOKEN) private readonly token: string,
    @Inject(PUBLISHER) private readonly publisher: RecordPublisher,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<{ headers: Record<string, string | string[] | undefined>; method: string; url: string; ip?: string }>();
    const given = bearerToken(req.headers['authorization']);
    if (given && timingSafeEqual(digest(given), digest(this.token))) return true;
    // Never the presented token itself: only that a refusal happened, where, and from which address.
    this.publisher
      .publish(AuditEventMessage, [
        {
          key: 'platform',
          value: {
            at: new Date().toISOString(),
            service: 'control',
            actor: 'anonymous',
            action: 'admin.authenticate',
            target: `${req.method} ${req.url.split('?')[0]}`.slice(0, 256),
            outcome: 'denied',
            details: { ip: req.ip ?? 'unknown', tokenPresented: given !== undefined },
          },
        },
      ])
      .catch((err) => this.logger.warn({ err: String(err) }, 'could not audit a refused admin request'));
    throw new HttpException({ error: 'unauthorized', message: 'the admin bearer token is required' }, HttpStatus.UNAUTHORIZED);
  }
}
