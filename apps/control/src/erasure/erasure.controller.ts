import { Controller, Get, HttpCode, Inject, Param, Post, Req } from '@nestjs/common';
import { z } from 'zod';
import { ErasureIdSchema, TenantIdSchema } from '@headroom/contracts';
import { parseBody } from '@headroom/runtime';
import { NoAudit, principalOf, Requires } from '@headroom/tenancy';
import { ErasureService } from './erasure.service';

export const SubjectErasureParamsSchema = z.object({ tenant: TenantIdSchema, userId: z.string().min(1).max(256) });
export const ErasureParamsSchema = z.object({ id: ErasureIdSchema });

const actor = (req: unknown) => principalOf(req)?.actor ?? 'anonymous';

/**
 * GDPR erasure of a data subject, and the progress of any erasure (a tenant's starts with
 * DELETE /v1/tenants/:tenant). A tenant's admin may erase its own users.
 */
@Controller('v1')
export class ErasureController {
  constructor(@Inject(ErasureService) private readonly erasures: ErasureService) {}

  /** Not audited by the interceptor: its path holds the raw user id. The service audits the request under its id instead. */
  @Post('tenants/:tenant/subjects/:userId/erasure')
  @HttpCode(202)
  @NoAudit()
  @Requires({ role: 'admin' })
  requestSubject(@Req() req: unknown, @Param('tenant') tenant: string, @Param('userId') userId: string) {
    const params = parseBody(SubjectErasureParamsSchema, { tenant, userId });
    return this.erasures.requestSubject(params.tenant, params.userId, actor(req));
  }

  /** A tenant's credential sees its own tenant's erasures; the platform's, every one. */
  @Get('erasures/:id')
  @Requires({ role: 'admin' })
  progress(@Req() req: unknown, @Param('id') id: string) {
    const principal = principalOf(req);
    return this.erasures.progress(parseBody(ErasureParamsSchema, { id }).id, principal?.role === 'platform-admin' ? undefined : (principal?.tenant ?? ''));
  }
}
