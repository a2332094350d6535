import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Put, Inject, Req } from '@nestjs/common';
import { TenantIdSchema } from '@headroom/contracts';
import { parseBody } from '@headroom/runtime';
import { principalOf, Requires } from '@headroom/tenancy';
import { z } from 'zod';
import { AlertConfigBodySchema, CreateApiKeyBodySchema, CreateTenantBodySchema, LimitsPatchBodySchema, parseRequestBody } from './tenants.dto';
import { TenantsService } from './tenants.service';

/** The audit actor: the guard's principal (`platform`, `key:<id>`, `person:<sub>`). */
const actor = (req: unknown) => principalOf(req)?.actor ?? 'anonymous';
export const TenantParamsSchema = z.object({ tenant: TenantIdSchema });
const tenantParam = (id: string) => parseBody(TenantParamsSchema, { tenant: id }).tenant;

/**
 * Creating, listing and erasing tenants and setting their limits are the platform's (platform-admin);
 * a tenant's admin manages its own keys, alert configuration and data-key rotation.
 */
@Controller('v1/tenants')
export class TenantsController {
  constructor(@Inject(TenantsService) private readonly tenants: TenantsService) {}

  @Post()
  @Requires({ role: 'platform-admin' })
  create(@Req() req: unknown, @Body() body: unknown) {
    return this.tenants.create(parseRequestBody(CreateTenantBodySchema, body), actor(req));
  }

  @Get()
  @Requires({ role: 'platform-admin' })
  list() {
    return this.tenants.list();
  }

  @Post(':tenant/api-keys')
  @Requires({ role: 'admin' })
  createApiKey(@Req() req: unknown, @Param('tenant') tenant: string, @Body() body: unknown) {
    return this.tenants.createApiKey(tenantParam(tenant), parseBody(CreateApiKeyBodySchema, body ?? {}).scopes, actor(req));
  }

  @Delete(':tenant/api-keys/:keyId')
  @Requires({ role: 'admin' })
  revokeApiKey(@Req() req: unknown, @Param('tenant') tenant: string, @Param('keyId') keyId: string) {
    return this.tenants.revokeApiKey(tenantParam(tenant), keyId, actor(req));
  }

  /** Validated as alerting will load it: expressions compiled (a 400 names line and column), receivers resolved, ids unique. */
  @Put(':tenant/alert-config')
  @Requires({ role: 'admin' })
  putAlertConfig(@Req() req: unknown, @Param('tenant') tenant: string, @Body() body: unknown) {
    return this.tenants.putAlertConfig(tenantParam(tenant), parseRequestBody(AlertConfigBodySchema, body), actor(req));
  }

  /** Overrides of the tenant's limits (docs/limits.md); every service applies them from the control topic, without restart. */
  @Patch(':tenant/limits')
  @Requires({ role: 'platform-admin' })
  patchLimits(@Req() req: unknown, @Param('tenant') tenant: string, @Body() body: unknown) {
    return this.tenants.patchLimits(tenantParam(tenant), parseBody(LimitsPatchBodySchema, body), actor(req));
  }

  @Post(':tenant/data-keys/rotate')
  @HttpCode(201)
  @Requires({ role: 'admin' })
  rotate(@Req() req: unknown, @Param('tenant') tenant: string) {
    return this.tenants.rotateDataKey(tenantParam(tenant), actor(req));
  }

  @Delete(':tenant')
  @Requires({ role: 'platform-admin' })
  erase(@Req() req: unknown, @Param('tenant') tenant: string) {
    return this.tenants.erase(tenantParam(tenant), actor(req));
  }
}
