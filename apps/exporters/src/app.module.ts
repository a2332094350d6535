import { kafkaConnectionFromConfig } from '@headroom/config';
import { Module, type DynamicModule } from '@nestjs/common';
import type { Registry } from 'prom-client';
import { RuntimeModule, type Logger } from '@headroom/runtime';
import { EXPORTERS_OPERATIONS } from './openapi';
import { TenancyModule } from '@headroom/tenancy';
import type { ExportersConfig } from './config';
import { DatabaseModule } from '@headroom/database';
import { PrometheusModule } from './prometheus/prometheus.module';
import { DEFAULT_DELIVERY_POLICY } from './sinks/sink-delivery';
import { SinksModule } from './sinks/sinks.module';
import { ExportersErasureModule } from './erasure/exporters-erasure';

@Module({})
export class AppModule {
  /** `metrics` lets a spec inspect the service's own registry. */
  static forRoot(config: ExportersConfig, logger: Logger, metrics?: Registry): DynamicModule {
    return {
      module: AppModule,
      imports: [
        RuntimeModule.forRoot({ service: 'exporters', logger, metrics, metricsToken: config.HEADROOM_METRICS_TOKEN, openapi: EXPORTERS_OPERATIONS }),
        TenancyModule.forRoot({ service: 'exporters', kafka: kafkaConnectionFromConfig(config, 'exporters'), kekBase64: config.HEADROOM_KEK, kekId: config.HEADROOM_KEK_ID, kekPreviousBase64: config.HEADROOM_KEK_PREVIOUS, kekPreviousId: config.HEADROOM_KEK_PREVIOUS_ID, controlPublicKeys: config.HEADROOM_CONTROL_PUBLIC_KEY }),
        DatabaseModule.forRoot({ url: config.DATABASE_URL }),
        PrometheusModule.forRoot({
          groupId: config.EXPORTERS_GROUP_ID,
          stalenessSeconds: config.STALENESS_SECONDS,
        }),
        SinksModule.forRoot({
          groupId: config.EXPORTERS_GROUP_ID,
          sinks: config.sinks,
          policy: {
            baseBackoffMs: config.EXPORT_SINK_BASE_BACKOFF_MS,
            maxBackoffMs: config.EXPORT_SINK_MAX_BACKOFF_MS,
            breakerFailures: config.EXPORT_SINK_BREAKER_FAILURES,
            holdMs: DEFAULT_DELIVERY_POLICY.holdMs,
          },
        }),
        ExportersErasureModule.forRoot(config.sinks),
      ],
    };
  }
}
