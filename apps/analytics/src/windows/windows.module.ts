import { Module, type DynamicModule } from '@nestjs/common';
import type { Pool } from 'pg';
import { PG_POOL } from '@headroom/database';
import { AggregateBatchMessage, SignalBatchMessage } from '@headroom/contracts';
import { SeriesAnomalies } from '../signals/series-anomalies';
import type { RecordPublisher } from '@headroom/kafka';
import { PUBLISHER } from '@headroom/tenancy';
import type { AnalyticsConfig } from '../config';
import { AggregatesRepository } from './aggregates.repository';
import { ANALYTICS_SETTINGS, TelemetryConsumer } from './telemetry.consumer';
import { WindowAggregator } from './window-aggregator';
import { AGGREGATE_SINK, CLOCK, WindowsService, type AggregateSink } from './windows.service';

@Module({})
export class WindowsModule {
  static forRoot(config: AnalyticsConfig): DynamicModule {
    return {
      module: WindowsModule,
      providers: [
        { provide: AggregatesRepository, inject: [PG_POOL], useFactory: (pool: Pool) => new AggregatesRepository(pool) },
        {
          provide: WindowAggregator,
          useFactory: () => new WindowAggregator({ windowMs: config.WINDOW_MS, allowedLatenessMs: config.ALLOWED_LATENESS_MS, idleCloseMs: config.IDLE_CLOSE_MS }),
        },
        { provide: CLOCK, useValue: () => Date.now() },
        {
          provide: AGGREGATE_SINK,
          inject: [PUBLISHER],
          useFactory: (publisher: RecordPublisher): AggregateSink => ({
            publish: (records) => publisher.publish(AggregateBatchMessage, records),
            publishSignals: (records) => publisher.publish(SignalBatchMessage, records),
          }),
        },
        { provide: ANALYTICS_SETTINGS, useValue: { groupId: config.ANALYTICS_GROUP_ID, flushIntervalMs: config.FLUSH_INTERVAL_MS } },
        { provide: SeriesAnomalies, useFactory: () => new SeriesAnomalies({ threshold: config.ANOMALY_THRESHOLD, maxSeries: config.ANOMALY_MAX_SERIES }) },
        WindowsService,
        TelemetryConsumer,
      ],
    };
  }
}
