import { HttpException, Inject, Injectable, Optional, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { TenantIdSchema } from '@headroom/contracts';
import { Reflector } from '@nestjs/core';
import { LOGGER, READINESS, type Logger, type Readiness } from '@headroom/runtime';
import { Authenticator } from './authenticator';
import { readCredential } from './credential';
import { AUTH_DENIALS, type DenialReason, type DenialRecorder } from './denials';
import type { Principal } from './principal';
import { REQUIRES_METADATA, type RouteRequirement } from './requires.decorator';
import { roleAtLeast } from './roles';

interface GuardedRequest {
  headers: Record<string, string | string[] | undefined>;
  params?: Record<string, string | undefined>;
  method: string;
  url: string;
  ip?: string;
  routeOptions?: { url?: string };
  principal?: Principal;
}

/**
 * The one gate of every HTTP route of every service (APP_GUARD). A route declares what it needs
 * with @Requires or @Public; one that declares nothing is refused. 401: no valid credential. 404:
 * the route's `:tenant` is not the credential's — the same answer as a tenant that does not exist,
 * so another tenant's credential learns nothing about which tenants there are. 403: the credential
 * is the tenant's but its role (or scope) is too weak. Every refusal goes to the audit trail.
 *
 * A platform credential names no tenant; on the routes that serve the credential's own tenant (no
 * `:tenant` in the path: queries, alert groups, the Prometheus endpoint) it acts for the tenant named in
 * `X-Scope-OrgID` (Grafana Mimir's header), which must exist and be active (404 otherwise). Any other
 * credential's tenant is its own: the header is ignored for it.
 */
export const SCOPE_HEADER = 'x-scope-orgid';

@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    @Inject(Reflector) private readonly reflector: Reflector,
    @Inject(Authenticator) private readonly authenticator: Authenticator,
    @Inject(READINESS) private readonly readiness: Readiness,
    @Inject(LOGGER) private readonly logger: Logger,
    @Optional() @Inject(AUTH_DENIALS) private readonly denials?: DenialRecorder,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const request = context.switchToHttp().getRequest<GuardedRequest>();
    const requirement = this.reflector.getAllAndOverride<RouteRequirement | undefined>(REQUIRES_METADATA, [context.getHandler(), context.getClass()]);
    const route = `${request.method} ${request.routeOptions?.url ?? request.url.split('?')[0]}`.slice(0, 256);
    if (!requirement) {
      this.logger.error({ route }, 'route declares no @Requires or @Public: refused');
      this.refuse(request, route, 403, 'undeclared_route', 'this route declares no required role; it is refused until it does');
    }
    if (requirement.public) return true;

    const principal = await this.authenticator.authenticate(readCredential(request.headers['authorization']));
    if (!principal) {
      // Before the control topic has been read, a valid key would look unknown: say "retry", not "no".
      if (!(await this.readiness.isReady())) throw new HttpException({ error: 'not_ready', message: 'tenants are still loading; retry shortly' }, 503);
      const presented = readCredential(request.headers['authorization']) !== undefined;
      context.switchToHttp().getResponse<{ header(name: string, value: string): unknown }>().header('WWW-Authenticate', 'Bearer realm="headroom"');
      this.refuse(request, route, 401, presented ? 'bad_credential' : 'no_credential', 'a valid credential is required (Authorization: Bearer <API key or token>)');
    }

    const pathTenant = request.params?.['tenant'];
    if (pathTenant !== undefined && principal.role !== 'platform-admin' && pathTenant !== principal.tenant) {
      this.refuse(request, route, 404, 'other_tenant', 'no such tenant', principal);
    }
    if (requirement.scope === 'ingest') {
      const scopes = principal.scopes ?? [];
      if (!scopes.includes('ingest') && !scopes.includes('admin')) this.refuse(request, route, 403, 'scope_missing', 'this route takes an API key with the ingest scope', principal);
    } else if (requirement.role && !roleAtLeast(principal.role, requirement.role)) {
      this.refuse(request, route, 403, 'role_too_weak', `this route needs the ${requirement.role} role`, principal);
    }
    request.principal = principal.role === 'platform-admin' && pathTenant === undefined ? this.scoped(request, route, principal) : principal;
    return true;
  }

  /** The platform credential acting for the tenant its X-Scope-OrgID names, if it names one. */
  private scoped(request: GuardedRequest, route: string, principal: Principal): Principal {
    const named = request.headers[SCOPE_HEADER];
    if (named === undefined || named === '') return principal;
    const tenant = Array.isArray(named) ? undefined : TenantIdSchema.safeParse(named);
    if (!tenant?.success || !this.authenticator.tenantIsActive(tenant.data)) this.refuse(request, route, 404, 'other_tenant', `${SCOPE_HEADER} names no active tenant`, principal);
    return { ...principal, tenant: tenant.data };
  }

  private refuse(request: GuardedRequest, route: string, status: 401 | 403 | 404, reason: DenialReason, message: string, principal?: Principal): never {
    try {
      // The route's pattern, not the URL: the audit target then groups by route, whatever ids were tried.
      this.denials?.denied({ method: request.method, url: route.slice(request.method.length + 1), ...(request.ip ? { ip: request.ip } : {}) }, reason, {
        actor: principal?.actor ?? 'anonymous',
        ...(principal?.tenant ? { tenant: principal.tenant } : {}),
      });
    } catch (err) {
      this.logger.warn({ err: String(err), route }, 'could not audit a refused request');
    }
    const error = status === 401 ? 'unauthorized' : status === 404 ? 'not_found' : 'forbidden';
    throw new HttpException({ error, message }, status);
  }
}
