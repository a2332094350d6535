import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { AggregateBatchMessage } from '@headroom/contracts';
import { isMessage, PermanentError, type ConsumedRecord } from '@headroom/kafka';
import { TenantConsumers, type TenantTopicConsumer } from '@headroom/tenancy';
import { PROMETHEUS_OPTIONS, PrometheusService, type PrometheusOptions } from './prometheus.service';

/**
 * Feeds closed windows from the aggregates topic to the Prometheus service. Starts only once the
 * control topic is caught up (before that, tenants' data keys may be missing and records would wait
 * in retries), and stops before shutdown so the in-flight batch finishes and its offsets are committed.
 */
@Injectable()
export class AggregatesConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly consumer: TenantTopicConsumer;

  constructor(
    @Inject(PrometheusService) private readonly prometheus: PrometheusService,
    @Inject(TenantConsumers) consumers: TenantConsumers,
    @Inject(PROMETHEUS_OPTIONS) options: PrometheusOptions,
  ) {
    this.consumer = consumers.create({
      readinessCheck: 'aggregates_consumer',
      groupId: options.groupId,
      contracts: [AggregateBatchMessage],
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
    if (!isMessage(record, AggregateBatchMessage) || !record.value || !record.tenant) {
      throw new PermanentError(`expected a tenant-scoped ${AggregateBatchMessage.id} record`, 'unexpected_record');
    }
    // The tenant is the record's authenticated tenant (its payload decrypted under that tenant's key).
    await this.prometheus.record(record.tenant, record.value.windows);
  }
}
