/**
 * The query API alone (no telemetry consumer, no rollups), for tools/bench/query.bench.ts: the
 * whole analytics app would, under a fresh group and the bench's own KEK, read the shared
 * telemetry topic from the start and send every other tenant's records to the DLQ. Same modules
 * as AppModule otherwise (runtime, tenancy from the control topic, database, QueryModule).
 */
import { Module, type DynamicModule } from '@nestjs/common';
import { kafkaConnectionFromConfig, loadConfig } from '@headroom/config';
import { DatabaseModule } from '@headroom/database';
import { RuntimeModule, runService, type Logger } from '@headroom/runtime';
import { TenancyModule } from '@headroom/tenancy';
import { analyticsEnvSchema, type AnalyticsConfig } from '../../config';
import { QueryModule } from '../query.module';

@Module({})
class QueryOnlyModule {
  static forRoot(config: AnalyticsConfig, logger: Logger): DynamicModule {
    return {
      module: QueryOnlyModule,
      imports: [
        RuntimeModule.forRoot({ service: 'analytics', logger }),
        TenancyModule.forRoot({ service: 'analytics', kafka: kafkaConnectionFromConfig(config, 'analytics'), kekBase64: config.HEADROOM_KEK, kekId: config.HEADROOM_KEK_ID, controlPublicKeys: config.HEADROOM_CONTROL_PUBLIC_KEY }),
        DatabaseModule.forRoot({ url: config.DATABASE_URL }),
        QueryModule.forRoot(config),
      ],
    };
  }
}

runService('analytics-query', () => loadConfig(analyticsEnvSchema, process.env), (config, logger) => QueryOnlyModule.forRoot(config, logger));
