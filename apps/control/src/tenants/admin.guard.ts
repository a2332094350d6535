import { createHash, timingSafeEqual } from 'node:crypto';
import { HttpException, HttpStatus, Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { bearerToken } from '@headroom/tenancy';

export const ADMIN_TOKEN = Symbol('ADMIN_TOKEN');

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Operators authenticate with one bearer token; compared in constant time. */
@Injectable()
export class AdminGuard implements CanActivate {
  constructor(@Inject(ADMIN_TOKEN) private readonly token: string) {}

  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<{ headers: Record<string, string | string[] | undefined> }>();
    const given = bearerToken(req.headers['authorization']);
    if (given && timingSafeEqual(digest(given), digest(this.token))) return true;
    throw new HttpException({ error: 'unauthorized', message: 'the admin bearer token is required' }, HttpStatus.UNAUTHORIZED);
  }
}
