import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { TelemetryBatchMessage } from '@headroom/contracts';
import { isMessage, RecordConsumer, type ConsumerMetrics, type KafkaClient, type RecordPublisher } from '@headroom/kafka';
import { LOGGER, READINESS, type Logger, type Readiness } from '@headroom/runtime';
import { CONTROL_SYNC, KAFKA, KAFKA_METRICS, KEYRING, PUBLISHER } from '@headroom/tenancy';
import type { TenantKeyring } from '@headroom/crypto';
import { WindowsService } from './windows.service';

export const ANALYTICS_SETTINGS = Symbol('ANALYTICS_SETTINGS');
export interface AnalyticsSettings {
  groupId: string;
  flushIntervalMs: number;
}

/** Thin: telemetry records in, WindowsService does the work; commits wait for windows to be persisted. */
@Injectable()
export class TelemetryConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private consumer: RecordConsumer | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    @Inject(WindowsService) private readonly windows: WindowsService,
    @Inject(KAFKA) private readonly kafka: KafkaClient,
    @Inject(KEYRING) private readonly keyring: TenantKeyring,
    @Inject(PUBLISHER) private readonly publisher: RecordPublisher,
    @Inject(KAFKA_METRICS) private readonly metrics: ConsumerMetrics,
    @Inject(READINESS) private readonly readiness: Readiness,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(ANALYTICS_SETTINGS) private readonly settings: AnalyticsSettings,
    @Inject(CONTROL_SYNC) private readonly syncKeys: () => Promise<void>,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.windows.restore();
    // Tenant keys come from the control topic: handle nothing before it is caught up.
    while (!(await this.readiness.status()).checks['control_caught_up']) await new Promise((r) => setTimeout(r, 100));
    const aggregator = this.windows.aggregator;
    this.consumer = new RecordConsumer(this.kafka, {
      service: 'analytics',
      groupId: this.settings.groupId,
      contracts: [TelemetryBatchMessage],
      keyring: this.keyring,
      dlq: this.publisher,
      logger: this.logger,
      metrics: this.metrics,
      syncKeys: this.syncKeys,
      commitGate: (topic, partition, next) => aggregator.commitGate(topic, partition, next),
      handle: async (record) => {
        if (isMessage(record, TelemetryBatchMessage) && record.value && record.tenant) {
          this.windows.ingest(record.tenant, record.value, { topic: record.topic, partition: record.partition, offset: record.offset });
        }
      },
    });
    this.readiness.register('telemetry_consumer', () => this.consumer?.isRunning() ?? false);
    await this.consumer.start();
    this.timer = setInterval(() => void this.windows.flush(), this.settings.flushIntervalMs);
  }

  /** Stop taking records (the in-flight batch finishes), persist what closed, commit up to the gate. */
  async beforeApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.consumer?.stop(() => this.windows.flush());
  }
}
