import { ForbiddenException, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { principalOf } from '@headroom/tenancy';

/** Kept for modules that still provide it; the token itself is TenancyModule's `platformAdminToken`. */
export const ADMIN_TOKEN = Symbol('ADMIN_TOKEN');

/**
 * Authentication is the global AuthGuard's (libs/tenancy/src/auth): the shared admin token is now
 * one credential among others (platform-admin, actor `platform`), beside tenants' API keys and
 * people's tokens. This guard only narrows a route to platform-admin for controllers that still
 * use it; declare `@Requires({ role: 'platform-admin' })` instead.
 */
@Injectable()
export class AdminGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    if (principalOf(context.switchToHttp().getRequest())?.role === 'platform-admin') return true;
    throw new ForbiddenException({ error: 'forbidden', message: 'this route needs the platform-admin role' });
  }
}
