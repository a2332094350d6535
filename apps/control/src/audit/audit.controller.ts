import { Controller, Get, Inject, NotFoundException, Query, Req } from '@nestjs/common';
import { z } from 'zod';
import { TenantIdSchema } from '@headroom/contracts';
import { parseBody } from '@headroom/runtime';
import { principalOf, Requires } from '@headroom/tenancy';
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

/**
 * Platform-admin reads and verifies every chain; a tenant's admin only its own tenant's (another
 * tenant, or the platform's chain, is "not found", as on every route).
 */
@Controller('v1/audit')
@Requires({ role: 'admin' })
export class AuditController {
  constructor(@Inject(AuditRepository) private readonly repo: AuditRepository) {}

  /** The tenant a tenant's admin may name (its own; absent means its own); platform-admin names any. */
  private scope(req: unknown, tenant: string | undefined): string | undefined {
    const principal = principalOf(req);
    if (principal?.role === 'platform-admin') return tenant;
    if (tenant !== undefined && tenant !== principal?.tenant) throw new NotFoundException({ error: 'not_found', message: `no tenant ${tenant}` });
    return principal?.tenant;
  }

  /** Newest first; `?tenant=` narrows to one tenant. */
  @Get()
  async list(@Req() req: unknown, @Query() query: unknown) {
    const q = parseBody(AuditQuerySchema, query);
    return { events: await this.repo.list({ ...q, tenant: this.scope(req, q.tenant) }) };
  }

  /** Recomputes one chain from its first link: `{ chain, rows, ok, headHash, headSeq, firstBroken? }`. */
  @Get('verify')
  async verify(@Req() req: unknown, @Query() query: unknown) {
    const { tenant } = parseBody(AuditVerifyQuerySchema, query);
    const chain = this.scope(req, tenant);
    return this.repo.verify(chain === PLATFORM_CHAIN ? undefined : chain);
  }
}
