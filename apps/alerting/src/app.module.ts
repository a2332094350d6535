import { kafkaConnectionFromConfig } from '@headroom/config';
import { Module, type DynamicModule } from '@nestjs/common';
import type { Registry } from 'prom-client';
import { RuntimeModule, type Logger } from '@headroom/runtime';
import { ALERTING_OPERATIONS } from './openapi';
import { TenancyModule } from '@headroom/tenancy';
import { DatabaseModule } from '@headroom/database';
import { AlertingModule } from './alerting.module';
import type { AlertingConfig } from './config';

@Module({})
export class AppModule {
  /** `metrics` lets an in-process test read the service's own counters. */
  static forRoot(config: AlertingConfig, logger: Logger, metrics?: Registry): DynamicModule {
    return {
      module: AppModule,
      imports: [
        RuntimeModule.forRoot({ service: 'alerting', logger, metrics, metricsToken: config.HEADROOM_METRICS_TOKEN, openapi: ALERTING_OPERATIONS }),
        TenancyModule.forRoot({ service: 'alerting', kafka: kafkaConnectionFromConfig(config, 'alerting'), kekBase64: config.HEADROOM_KEK, kekId: config.HEADROOM_KEK_ID, kekPreviousBase64: config.HEADROOM_KEK_PREVIOUS, kekPreviousId: config.HEADROOM_KEK_PREVIOUS_ID, controlPublicKeys: config.HEADROOM_CONTROL_PUBLIC_KEY }),
        DatabaseModule.forRoot({ url: config.DATABASE_URL }),
        AlertingModule.forRoot(config),
      ],
    };
  }
}
