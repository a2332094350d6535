import { Global, Module } from '@nestjs/common';
import { ErasureConsumer, ControlErasure } from './erasure.consumer';
import { ErasureController } from './erasure.controller';
import { ErasureRepository } from './erasure.repository';
import { ErasureService } from './erasure.service';

/** GDPR erasure sagas. Global: TenantsService opens a tenant's saga in its erasure transaction. */
@Global()
@Module({
  controllers: [ErasureController],
  providers: [ErasureRepository, ErasureService, ErasureConsumer, ControlErasure],
  exports: [ErasureService],
})
export class ErasureModule {}
