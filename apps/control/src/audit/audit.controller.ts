import { Controller, Get, Inject, Query, UseGuards } from '@nestjs/common';
import { z } from 'zod';
import { TenantIdSchema } from '@headroom/contracts';
import { parseBody } from '@headroom/runtime';
import { AdminGuard } from '../tenants/admin.guard';
import { PLATFORM_CHAIN } from './audit-chain';
import { AuditRepository } from './audit.repository';

export const AuditQuerySchema = z
  .object({
    tenant: TenantIdSchema.optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
  })
  .strict();

/** `platform` names the platform's chain (events without a tenant). */
export const AuditVerifyQuerySchema = z.object({ tenant: TenantIdSchema }).strict();

/** The answer of GET /v1/audit/verify (for the OpenAPI document). */
export const ChainReportSchema = z.object({
  chain: z.string(),
  rows: z.number().int(),
  ok: z.boolean(),
  headHash: z.string(),
  headSeq: z.number().int(),
  firstBroken: z.object({ seq: z.number().int(), id: z.string().optional(), reason: z.enum(['hash_mismatch', 'prev_mismatch', 'sequence_gap', 'head_mismatch']) }).optional(),
});

@Controller('v1/audit')
@UseGuards(AdminGuard)
export class AuditController {
  constructor(@Inject(AuditRepository) private readonly repo: AuditRepository) {}

  /** Newest first; `?tenant=` narrows to one tenant. */
  @Get()
  async list(@Query() query: unknown) {
    return { events: await this.repo.list(parseBody(AuditQuerySchema, query)) };
  }

  /** Recomputes one chain from its first link: `{ chain, rows, ok, headHash, headSeq, firstBroken? }`. */
  @Get('verify')
  async verify(@Query() query: unknown) {
    const { tenant } = parseBody(AuditVerifyQuerySchema, query);
    return this.repo.verify(tenant === PLATFORM_CHAIN ? undefined : tenant);
  }
}
