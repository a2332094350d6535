import { kafkaConnectionFromConfig } from '@headroom/config';
import { Module, type DynamicModule } from '@nestjs/common';
import { RuntimeModule, type Logger } from '@headroom/runtime';
import { ANALYTICS_OPERATIONS } from './openapi';
import { TenancyModule } from '@headroom/tenancy';
import { DatabaseModule } from '@headroom/database';
import type { AnalyticsConfig } from './config';
import { QueryModule } from './query/query.module';
import { WindowsModule } from './windows/windows.module';
import { SubjectsModule } from './erasure/erasure.module';

@Module({})
export class AppModule {
  static forRoot(config: AnalyticsConfig, logger: Logger): DynamicModule {
    return {
      module: AppModule,
      imports: [
        RuntimeModule.forRoot({ service: 'analytics', logger, metricsToken: config.HEADROOM_METRICS_TOKEN, openapi: ANALYTICS_OPERATIONS }),
        TenancyModule.forRoot({ service: 'analytics', kafka: kafkaConnectionFromConfig(config, 'analytics'), kekBase64: config.HEADROOM_KEK, kekId: config.HEADROOM_KEK_ID, kekPreviousBase64: config.HEADROOM_KEK_PREVIOUS, kekPreviousId: config.HEADROOM_KEK_PREVIOUS_ID, controlPublicKeys: config.HEADROOM_CONTROL_PUBLIC_KEY }),
        DatabaseModule.forRoot({ url: config.DATABASE_URL }),
        SubjectsModule,
        WindowsModule.forRoot(config),
        QueryModule.forRoot(config),
      ],
    };
  }
}
