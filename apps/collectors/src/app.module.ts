import { kafkaConnectionFromConfig } from '@headroom/config';
import { Module, type DynamicModule } from '@nestjs/common';
import { RuntimeModule, type Logger } from '@headroom/runtime';
import { COLLECTORS_OPERATIONS } from './openapi';
import { TenancyModule } from '@headroom/tenancy';
import type { CollectorsConfig } from './config';
import { IngestModule } from './ingest/ingest.module';
import { ScrapersModule } from './scrapers/scrapers.module';
import { CollectorsErasureModule } from './erasure/collectors-erasure';

@Module({})
export class AppModule {
  static forRoot(config: CollectorsConfig, logger: Logger): DynamicModule {
    const ingest = IngestModule.forRoot(config);
    return {
      module: AppModule,
      imports: [
        RuntimeModule.forRoot({ service: 'collectors', logger, metricsToken: config.HEADROOM_METRICS_TOKEN, openapi: COLLECTORS_OPERATIONS }),
        TenancyModule.forRoot({ service: 'collectors', kafka: kafkaConnectionFromConfig(config, 'collectors'), kekBase64: config.HEADROOM_KEK, kekId: config.HEADROOM_KEK_ID, kekPreviousBase64: config.HEADROOM_KEK_PREVIOUS, kekPreviousId: config.HEADROOM_KEK_PREVIOUS_ID, controlPublicKeys: config.HEADROOM_CONTROL_PUBLIC_KEY }),
        ingest,
        CollectorsErasureModule.forRoot(config.REDIS_URL),
        // Built-in scrapers publish through the same ingest edge (the same module instance).
        ...(config.COLLECTORS_SCRAPERS ? [ScrapersModule.forRoot(config.COLLECTORS_SCRAPERS, config.REDIS_URL, ingest)] : []),
      ],
    };
  }
}
