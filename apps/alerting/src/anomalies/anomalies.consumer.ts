import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { SignalBatchMessage } from '@headroom/contracts';
import { isMessage, PermanentError, type ConsumedRecord } from '@headroom/kafka';
import { TenantConsumers, type TenantTopicConsumer } from '@headroom/tenancy';
import { CONSUMER_OPTIONS, type ConsumerOptions } from '../tokens';
import { AnomaliesService } from './anomalies.service';

/**
 * Thin: reads headroom.signals.v1 in its own consumer group (`<ALERTING_GROUP_ID>-signals`), so a slow
 * Slack for anomalies never holds back threshold alerts and each topic keeps its own offsets.
 */
@Injectable()
export class AnomaliesConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly consumer: TenantTopicConsumer;

  constructor(
    @Inject(AnomaliesService) private readonly anomalies: AnomaliesService,
    @Inject(TenantConsumers) consumers: TenantConsumers,
    @Inject(CONSUMER_OPTIONS) options: ConsumerOptions,
  ) {
    this.consumer = consumers.create({
      readinessCheck: 'signals_consumer',
      groupId: `${options.ALERTING_GROUP_ID}-signals`,
      contracts: [SignalBatchMessage],
      // Like the aggregates consumer: a new group starts at the end (old anomalies page nobody).
      fromBeginning: false,
      handle: (record) => this.handle(record),
    });
  }

  onApplicationBootstrap(): void {
    this.consumer.run();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.consumer.stop();
  }

  private async handle(record: ConsumedRecord): Promise<void> {
    if (!isMessage(record, SignalBatchMessage) || record.value === null) throw new PermanentError(`unexpected record ${record.contract.id}`, 'unknown_schema');
    if (!record.tenant) throw new PermanentError('signal record without a tenant header', 'tenant');
    await this.anomalies.handleBatch(record.tenant, record.value, record.traceparent);
  }
}
