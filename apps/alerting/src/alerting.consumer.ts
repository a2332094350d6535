import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { AggregateBatchMessage } from '@headroom/contracts';
import { isMessage, PermanentError, type ConsumedRecord } from '@headroom/kafka';
import { TenantConsumers, type TenantTopicConsumer } from '@headroom/tenancy';
import { AlertingService } from './alerting.service';
import { CONSUMER_OPTIONS, type ConsumerOptions } from './tokens';

/**
 * Thin: reads headroom.aggregates.v1 and hands each tenant's batch to the service. Starts only once
 * the control topic is caught up (rules, locales and data keys are known), so a window is never
 * judged against a partial view of its tenant's rules.
 */
@Injectable()
export class AlertingConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly consumer: TenantTopicConsumer;

  constructor(
    @Inject(AlertingService) private readonly alerting: AlertingService,
    @Inject(TenantConsumers) consumers: TenantConsumers,
    @Inject(CONSUMER_OPTIONS) options: ConsumerOptions,
  ) {
    this.consumer = consumers.create({
      readinessCheck: 'aggregates_consumer',
      groupId: options.ALERTING_GROUP_ID,
      contracts: [AggregateBatchMessage],
      // A new group starts at the end: paging now about a week of retained windows helps nobody.
      // An existing group resumes from its committed offsets either way.
      fromBeginning: false,
      handle: (record) => this.handle(record),
      onRebalance: () => this.alerting.forgetCachedStates(),
    });
  }

  onApplicationBootstrap(): void {
    this.consumer.run();
  }

  async beforeApplicationShutdown(): Promise<void> {
    // Lets the in-flight batch finish and commits its offsets.
    await this.consumer.stop();
  }

  private async handle(record: ConsumedRecord): Promise<void> {
    if (!isMessage(record, AggregateBatchMessage) || record.value === null) throw new PermanentError(`unexpected record ${record.contract.id}`, 'unknown_schema');
    if (!record.tenant) throw new PermanentError('aggregate record without a tenant header', 'tenant');
    await this.alerting.handleBatch(record.tenant, record.value, record.traceparent);
  }
}
