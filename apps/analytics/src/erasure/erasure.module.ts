import { Global, Module } from '@nestjs/common';
import type { Pool } from 'pg';
import { PG_POOL } from '@headroom/database';
import { SubjectErasures } from '@headroom/tenancy';
import { SubjectEventsRepository } from './subject-events.repository';
import { SubjectsController } from './subjects.controller';

/**
 * Data subjects in analytics: their events (right of access) and the erasures in progress. Global,
 * so WindowsService (which writes the events and drops erased subjects' windows) and the saga's
 * handler (AnalyticsErasure, provided beside WindowsService) share one instance.
 */
@Global()
@Module({
  controllers: [SubjectsController],
  providers: [
    { provide: SubjectErasures, useFactory: () => new SubjectErasures() },
    { provide: SubjectEventsRepository, inject: [PG_POOL, SubjectErasures], useFactory: (pool: Pool, e: SubjectErasures) => new SubjectEventsRepository(pool, e) },
  ],
  exports: [SubjectErasures, SubjectEventsRepository],
})
export class SubjectsModule {}
