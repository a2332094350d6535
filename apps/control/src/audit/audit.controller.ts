import { Controller, Get, Inject, Query, UseGuards } from '@nestjs/common';
import { z } from 'zod';
import { TenantIdSchema } from '@headroom/contracts';
import { parseBody } from '@headroom/runtime';
import { AdminGuard } from '../tenants/admin.guard';
import { AuditRepository } from './audit.repository';

export const AuditQuerySchema = z
  .object({
    tenant: TenantIdSchema.optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
  })
  .strict();

@Controller('v1/audit')
@UseGuards(AdminGuard)
export class AuditController {
  constructor(@Inject(AuditRepository) private readonly repo: AuditRepository) {}

  /** Newest first; `?tenant=` narrows to one tenant. */
  @Get()
  async list(@Query() query: unknown) {
    return { events: await this.repo.list(parseBody(AuditQuerySchema, query)) };
  }
}
