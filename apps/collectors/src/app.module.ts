import { Module, type DynamicModule } from '@nestjs/common';
import { RuntimeModule, type Logger } from '@headroom/runtime';
import { TenancyModule } from '@headroom/tenancy';
import type { CollectorsConfig } from './config';
import { IngestModule } from './ingest/ingest.module';

@Module({})
export class AppModule {
  static forRoot(config: CollectorsConfig, logger: Logger): DynamicModule {
    return {
      module: AppModule,
      imports: [
        RuntimeModule.forRoot({ service: 'collectors', logger }),
        TenancyModule.forRoot({ service: 'collectors', brokers: config.KAFKA_BROKERS, kekBase64: config.HEADROOM_KEK, kekId: config.HEADROOM_KEK_ID }),
        IngestModule.forRoot(config),
      ],
    };
  }
}
