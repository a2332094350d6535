import { Global, Module, type DynamicModule } from '@nestjs/common';
import type { ControlConfig } from '../config';
import { ErasureConsumer, ControlErasure } from './erasure.consumer';
import { ErasureController } from './erasure.controller';
import { ErasureRepository } from './erasure.repository';
import { ERASURE_LIMITS, ErasureService, type ErasureLimits } from './erasure.service';

/** GDPR erasure sagas. Global: TenantsService opens a tenant's saga in its erasure transaction. */
@Global()
@Module({})
export class ErasureModule {
  static forRoot(config: Pick<ControlConfig, 'CONTROL_MAX_OPEN_SUBJECT_ERASURES'>): DynamicModule {
    return {
      module: ErasureModule,
      controllers: [ErasureController],
      providers: [
        { provide: ERASURE_LIMITS, useValue: { maxOpenSubjectErasures: config.CONTROL_MAX_OPEN_SUBJECT_ERASURES } satisfies ErasureLimits },
        ErasureRepository,
        ErasureService,
        ErasureConsumer,
        ControlErasure,
      ],
      exports: [ErasureService],
    };
  }
}
