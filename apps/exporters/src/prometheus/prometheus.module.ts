import { Module, type DynamicModule } from '@nestjs/common';
import { AggregatesConsumer } from './aggregates.consumer';
import { PostgresWindowRepository, WINDOW_REPOSITORY } from './latest-windows.repository';
import { PrometheusController } from './prometheus.controller';
import { PROMETHEUS_OPTIONS, PrometheusService, type PrometheusOptions } from './prometheus.service';

/** Per-tenant Prometheus endpoint fed by the aggregates topic, persisted in PostgreSQL. */
@Module({})
export class PrometheusModule {
  static forRoot(options: PrometheusOptions): DynamicModule {
    return {
      module: PrometheusModule,
      controllers: [PrometheusController],
      providers: [
        { provide: PROMETHEUS_OPTIONS, useValue: options },
        { provide: WINDOW_REPOSITORY, useClass: PostgresWindowRepository },
        PrometheusService,
        AggregatesConsumer,
      ],
    };
  }
}
