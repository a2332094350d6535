import { Controller, Get, HttpCode, Inject, Param, Post, Req } from '@nestjs/common';
import { parseBody } from '@headroom/runtime';
import { principalOf, Requires } from '@headroom/tenancy';
import { TenantParamsSchema } from '../tenants/tenants.controller';
import { KekService } from './kek.service';
import { KeysService } from './keys.service';

const actor = (req: unknown) => principalOf(req)?.actor ?? 'anonymous';
const tenantParam = (id: string) => parseBody(TenantParamsSchema, { tenant: id }).tenant;

/** A tenant's admin sees and retires its data-key versions; the KEK is the platform's. */
@Controller()
export class KeysController {
  constructor(
    @Inject(KeysService) private readonly keys: KeysService,
    @Inject(KekService) private readonly kek: KekService,
  ) {}

  @Get('v1/tenants/:tenant/data-keys')
  @Requires({ role: 'admin' })
  list(@Param('tenant') tenant: string) {
    return this.keys.list(tenantParam(tenant));
  }

  @Post('v1/tenants/:tenant/data-keys/retire-expired')
  @HttpCode(200)
  @Requires({ role: 'admin' })
  retireExpired(@Req() req: unknown, @Param('tenant') tenant: string) {
    return this.keys.retireExpired(tenantParam(tenant), actor(req));
  }

  @Get('v1/platform/kek')
  @Requires({ role: 'platform-admin' })
  kekStatus() {
    return this.kek.status();
  }

  @Post('v1/platform/kek/rewrap')
  @HttpCode(200)
  @Requires({ role: 'platform-admin' })
  rewrap(@Req() req: unknown) {
    return this.kek.rewrap(actor(req));
  }
}
