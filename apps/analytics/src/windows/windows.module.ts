import { Module, type DynamicModule } from '@nestjs/common';
import type { Pool } from 'pg';
import { PG_POOL } from '@headroom/database';
import { AggregateBatchMessage, DlqRecordMessage, SignalBatchMessage } from '@headroom/contracts';
import { splitArrayField, type RecordPublisher } from '@headroom/kafka';
import { PUBLISHER } from '@headroom/tenancy';
import { SignalsModule } from '../signals/signals.module';
import { AnalyticsErasure } from '../erasure/analytics-erasure';
import type { AnalyticsConfig } from '../config';
import { RollupsService } from './rollups.service';
import { ANALYTICS_SETTINGS, TelemetryConsumer } from './telemetry.consumer';
import { WindowAggregator } from './window-aggregator';
import { WindowsRepository } from './windows.repository';
import { AGGREGATE_SINK, CLOCK, WINDOW_BUDGETS, WindowsService, type AggregateSink, type WindowBudgets } from './windows.service';

@Module({})
export class WindowsModule {
  static forRoot(config: AnalyticsConfig): DynamicModule {
    const budgets: WindowBudgets = {
      maxUnsaved: config.MAX_UNSAVED_WINDOWS,
      rollupDelayMs: config.ROLLUP_DELAY_MS,
      defaults: { maxDetectorSeries: config.ANOMALY_MAX_SERIES_PER_TENANT },
      groupId: config.ANALYTICS_GROUP_ID,
    };
    return {
      module: WindowsModule,
      imports: [SignalsModule.forRoot(config)],
      providers: [
        { provide: WindowsRepository, inject: [PG_POOL], useFactory: (pool: Pool) => new WindowsRepository(pool) },
        {
          provide: WindowAggregator,
          useFactory: () => new WindowAggregator({ windowMs: config.WINDOW_MS, allowedLatenessMs: config.ALLOWED_LATENESS_MS, idleCloseMs: config.IDLE_CLOSE_MS }),
        },
        { provide: CLOCK, useValue: () => Date.now() },
        { provide: WINDOW_BUDGETS, useValue: budgets },
        {
          provide: AGGREGATE_SINK,
          inject: [PUBLISHER],
          useFactory: (publisher: RecordPublisher): AggregateSink => ({
            publish: (records) => publisher.publish(AggregateBatchMessage, records, { split: splitArrayField('windows') }),
            publishSignals: (records) => publisher.publish(SignalBatchMessage, records, { split: splitArrayField('signals') }),
            quarantine: (records) => publisher.publish(DlqRecordMessage, records),
          }),
        },
        {
          provide: ANALYTICS_SETTINGS,
          useValue: { groupId: config.ANALYTICS_GROUP_ID, flushIntervalMs: config.FLUSH_INTERVAL_MS, rollupIntervalMs: config.ROLLUP_INTERVAL_MS, retentionIntervalMs: config.RETENTION_INTERVAL_MS },
        },
        WindowsService,
        RollupsService,
        TelemetryConsumer,
        AnalyticsErasure,
      ],
    };
  }
}
