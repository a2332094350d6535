import { kafkaConnectionFromConfig } from '@headroom/config';
import { Module, type DynamicModule } from '@nestjs/common';
import type { Registry } from 'prom-client';
import { RuntimeModule, type Logger } from '@headroom/runtime';
import { TenancyModule } from '@headroom/tenancy';
import type { ExportersConfig } from './config';
import { DatabaseModule } from '@headroom/database';
import { PrometheusModule } from './prometheus/prometheus.module';

@Module({})
export class AppModule {
  /** `metrics` lets a spec inspect the service's own registry. */
  static forRoot(config: ExportersConfig, logger: Logger, metrics?: Registry): DynamicModule {
    return {
      module: AppModule,
      imports: [
        RuntimeModule.forRoot({ service: 'exporters', logger, metrics }),
        TenancyModule.forRoot({ service: 'exporters', kafka: kafkaConnectionFromConfig(config, 'exporters'), kekBase64: config.HEADROOM_KEK, kekId: config.HEADROOM_KEK_ID }),
        DatabaseModule.forRoot({ url: config.DATABASE_URL }),
        PrometheusModule.forRoot({
          groupId: config.EXPORTERS_GROUP_ID,
          stalenessSeconds: config.STALENESS_SECONDS,
        }),
      ],
    };
  }
}
