import { Module, type DynamicModule } from '@nestjs/common';
import { AggregatesConsumer } from './aggregates.consumer';
import { PostgresWindowRepository, WINDOW_REPOSITORY } from './windows.repository';
import { PrometheusController } from './prometheus.controller';
import { PROMETHEUS_OPTIONS, PrometheusService, type PrometheusOptions } from './prometheus.service';

/** Per-tenant Prometheus endpoint fed by the aggregates topic, its state in PostgreSQL. */
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
        // A serve-only replica reads what the consuming ones wrote.
        ...(options.consume === false ? [] : [AggregatesConsumer]),
      ],
    };
  }
}
