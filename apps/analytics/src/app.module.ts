import { kafkaConnectionFromConfig } from '@headroom/config';
import { Module, type DynamicModule } from '@nestjs/common';
import { RuntimeModule, type Logger } from '@headroom/runtime';
import { ANALYTICS_OPERATIONS } from './openapi';
import { TenancyModule } from '@headroom/tenancy';
import { DatabaseModule } from '@headroom/database';
import type { AnalyticsConfig } from './config';
import { QueryModule } from './query/query.module';
import { WindowsModule } from './windows/windows.module';

@Module({})
export class AppModule {
  static forRoot(config: AnalyticsConfig, logger: Logger): DynamicModule {
    return {
      module: AppModule,
      imports: [
        RuntimeModule.forRoot({ service: 'analytics', logger, openapi: ANALYTICS_OPERATIONS }),
        TenancyModule.forRoot({ service: 'analytics', kafka: kafkaConnectionFromConfig(config, 'analytics'), kekBase64: config.HEADROOM_KEK, kekId: config.HEADROOM_KEK_ID }),
        DatabaseModule.forRoot({ url: config.DATABASE_URL }),
        WindowsModule.forRoot(config),
        QueryModule.forRoot(config),
      ],
    };
  }
}
