import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { TelemetryBatchMessage } from '@headroom/contracts';
import { isMessage } from '@headroom/kafka';
import { TenantConsumers, type TenantTopicConsumer } from '@headroom/tenancy';
import { RollupsService } from './rollups.service';
import { WindowsService } from './windows.service';

export const ANALYTICS_SETTINGS = Symbol('ANALYTICS_SETTINGS');
export interface AnalyticsSettings {
  groupId: string;
  flushIntervalMs: number;
  rollupIntervalMs: number;
  retentionIntervalMs: number;
}

/**
 * Thin: telemetry records in, WindowsService does the work; commits wait for windows to be
 * persisted. After each flush the consumer pauses while more is waiting to be persisted than the
 * budget allows (PostgreSQL or the broker slow) and resumes once it drains; it also pauses while one
 * flush takes longer than STALLED_FLUSH_TICKS ticks (PostgreSQL stopped: nothing closes or drains,
 * and taking records would only open more windows): memory plateaus.
 */
const STALLED_FLUSH_TICKS = 6;

@Injectable()
export class TelemetryConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly consumer: TenantTopicConsumer;
  private timer: NodeJS.Timeout | undefined;
  private flushStartedAt: number | undefined;

  constructor(
    @Inject(WindowsService) private readonly windows: WindowsService,
    @Inject(RollupsService) private readonly rollups: RollupsService,
    @Inject(TenantConsumers) consumers: TenantConsumers,
    @Inject(ANALYTICS_SETTINGS) private readonly settings: AnalyticsSettings,
  ) {
    const aggregator = windows.aggregator;
    this.consumer = consumers.create({
      readinessCheck: 'telemetry_consumer',
      groupId: settings.groupId,
      contracts: [TelemetryBatchMessage],
      commitGate: (_topic, partition, next) => aggregator.commitGate(partition, next),
      onRebalance: (assigned) => void this.windows.retainPartitions(assigned),
      handle: async (record) => {
        if (isMessage(record, TelemetryBatchMessage) && record.value && record.tenant) {
          await this.windows.ingest(record.tenant, record.value, { partition: record.partition, offset: record.offset });
        }
      },
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.windows.restore();
    this.consumer.run();
    this.timer = setInterval(() => void this.tick(), this.settings.flushIntervalMs);
    this.rollups.start(this.settings.rollupIntervalMs, this.settings.retentionIntervalMs);
  }

  private async tick(): Promise<void> {
    if (this.flushStartedAt !== undefined) {
      // The previous flush is still running: no second one behind it; past a few ticks, stop taking records.
      if (Date.now() - this.flushStartedAt > STALLED_FLUSH_TICKS * this.settings.flushIntervalMs && !this.consumer.isPaused()) this.consumer.pause();
      return;
    }
    this.flushStartedAt = Date.now();
    try {
      // Quiet streams close by the clock only when nothing is queued behind and the broker answers.
      await this.windows.flush(this.consumer.caughtUp());
    } finally {
      this.flushStartedAt = undefined;
    }
    if (this.windows.overBudget()) this.consumer.pause();
    else if (this.consumer.isPaused()) this.consumer.resume();
  }

  /** Stop taking records (the in-flight batch finishes), persist what closed, commit up to the gate. */
  async beforeApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.consumer.stop(() => this.windows.flush(false));
  }
}
