import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { TelemetryBatchMessage } from '@headroom/contracts';
import { isMessage } from '@headroom/kafka';
import { TenantConsumers, type TenantTopicConsumer } from '@headroom/tenancy';
import { WindowsService } from './windows.service';

export const ANALYTICS_SETTINGS = Symbol('ANALYTICS_SETTINGS');
export interface AnalyticsSettings {
  groupId: string;
  flushIntervalMs: number;
}

/** Thin: telemetry records in, WindowsService does the work; commits wait for windows to be persisted. */
@Injectable()
export class TelemetryConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly consumer: TenantTopicConsumer;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    @Inject(WindowsService) private readonly windows: WindowsService,
    @Inject(TenantConsumers) consumers: TenantConsumers,
    @Inject(ANALYTICS_SETTINGS) private readonly settings: AnalyticsSettings,
  ) {
    const aggregator = windows.aggregator;
    this.consumer = consumers.create({
      readinessCheck: 'telemetry_consumer',
      groupId: settings.groupId,
      contracts: [TelemetryBatchMessage],
      commitGate: (topic, partition, next) => aggregator.commitGate(topic, partition, next),
      onRebalance: (assigned) => void this.windows.retainPartitions(assigned),
      handle: async (record) => {
        if (isMessage(record, TelemetryBatchMessage) && record.value && record.tenant) {
          this.windows.ingest(record.tenant, record.value, { topic: record.topic, partition: record.partition, offset: record.offset });
        }
      },
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.windows.restore();
    this.consumer.run();
    this.timer = setInterval(() => void this.windows.flush(this.consumer.backlog() === 0), this.settings.flushIntervalMs);
  }

  /** Stop taking records (the in-flight batch finishes), persist what closed, commit up to the gate. */
  async beforeApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.consumer.stop(() => this.windows.flush(false));
  }
}
