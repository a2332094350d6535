import { Controller, Get, Header, HttpException, Inject, Param, Req } from '@nestjs/common';
import { z } from 'zod';
import { parseBody } from '@headroom/runtime';
import { CryptoError } from '@headroom/crypto';
import { Requires, tenantOf, TenantDirectory } from '@headroom/tenancy';
import { SubjectEventsRepository, type StoredSubjectEvent } from './subject-events.repository';

/** A user id as producers send it (the events' `userId` before pseudonymisation). */
export const SubjectParamsSchema = z.object({ userId: z.string().min(1).max(256) });

/** At most this many events in one answer (a subject with more is told so by `truncated`). */
const MAX_EVENTS = 10_000;

export interface SubjectRecordsAnswer {
  tenant: string;
  subject: string;
  events: StoredSubjectEvent[];
  truncated: boolean;
}

/**
 * Right of access: what analytics keeps about one data subject of the caller's tenant. The caller
 * names the user id; analytics computes its pseudonym with the tenant's key (as the edge did), so
 * the raw id is neither stored nor logged here.
 */
@Controller('v1/subjects')
export class SubjectsController {
  constructor(
    @Inject(SubjectEventsRepository) private readonly events: SubjectEventsRepository,
    @Inject(TenantDirectory) private readonly directory: TenantDirectory,
  ) {}

  @Get(':userId/records')
  @Requires({ role: 'admin' })
  @Header('Cache-Control', 'no-store')
  async records(@Req() req: unknown, @Param('userId') userId: string): Promise<SubjectRecordsAnswer> {
    const { tenant } = tenantOf(req);
    const params = parseBody(SubjectParamsSchema, { userId });
    let subject: string;
    try {
      subject = this.directory.keyring.pseudonymise(tenant, params.userId);
    } catch (err) {
      if (err instanceof CryptoError) throw new HttpException({ error: 'not_ready', message: 'the tenant’s pseudonym key is not known yet; retry shortly' }, 503);
      throw err;
    }
    const events = await this.events.ofSubject(tenant, subject, MAX_EVENTS + 1);
    return { tenant, subject, events: events.slice(0, MAX_EVENTS), truncated: events.length > MAX_EVENTS };
  }
}
