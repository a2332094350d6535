import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Put, UseGuards, Inject } from '@nestjs/common';
import { TenantIdSchema } from '@headroom/contracts';
import { parseBody } from '@headroom/runtime';
import { z } from 'zod';
import { AdminGuard } from './admin.guard';
import { AlertConfigBodySchema, CreateApiKeyBodySchema, CreateTenantBodySchema, LimitsPatchBodySchema, parseRequestBody } from './tenants.dto';
import { TenantsService } from './tenants.service';

const ACTOR = 'operator';
export const TenantParamsSchema = z.object({ tenant: TenantIdSchema });
const tenantParam = (id: string) => parseBody(TenantParamsSchema, { tenant: id }).tenant;

@Controller('v1/tenants')
@UseGuards(AdminGuard)
export class TenantsController {
  constructor(@Inject(TenantsService) private readonly tenants: TenantsService) {}

  @Post()
  create(@Body() body: unknown) {
    return this.tenants.create(parseRequestBody(CreateTenantBodySchema, body), ACTOR);
  }

  @Get()
  list() {
    return this.tenants.list();
  }

  @Post(':tenant/api-keys')
  createApiKey(@Param('tenant') tenant: string, @Body() body: unknown) {
    return this.tenants.createApiKey(tenantParam(tenant), parseBody(CreateApiKeyBodySchema, body ?? {}).scopes, ACTOR);
  }

  @Delete(':tenant/api-keys/:keyId')
  revokeApiKey(@Param('tenant') tenant: string, @Param('keyId') keyId: string) {
    return this.tenants.revokeApiKey(tenantParam(tenant), keyId, ACTOR);
  }

  /** Validated as alerting will load it: expressions compiled (a 400 names line and column), receivers resolved, ids unique. */
  @Put(':tenant/alert-config')
  putAlertConfig(@Param('tenant') tenant: string, @Body() body: unknown) {
    return this.tenants.putAlertConfig(tenantParam(tenant), parseRequestBody(AlertConfigBodySchema, body), ACTOR);
  }

  /** Overrides of the tenant's limits (docs/limits.md); every service applies them from the control topic, without restart. */
  @Patch(':tenant/limits')
  patchLimits(@Param('tenant') tenant: string, @Body() body: unknown) {
    return this.tenants.patchLimits(tenantParam(tenant), parseBody(LimitsPatchBodySchema, body), ACTOR);
  }

  @Post(':tenant/data-keys/rotate')
  @HttpCode(201)
  rotate(@Param('tenant') tenant: string) {
    return this.tenants.rotateDataKey(tenantParam(tenant), ACTOR);
  }

  @Delete(':tenant')
  erase(@Param('tenant') tenant: string) {
    return this.tenants.erase(tenantParam(tenant), ACTOR);
  }
}
