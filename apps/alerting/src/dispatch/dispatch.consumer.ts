import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { AlertEventMessage } from '@headroom/contracts';
import { isMessage, PermanentError, type ConsumedRecord } from '@headroom/kafka';
import { TenantConsumers, type TenantTopicConsumer } from '@headroom/tenancy';
import { Dispatcher } from './dispatcher';
import { CONSUMER_OPTIONS, type ConsumerOptions } from '../tokens';

/**
 * Reads headroom.alerts.v1 (its own consumer group) and hands each transition to the dispatcher,
 * which only writes rows: evaluation and delivery never wait on each other, and a provider outage
 * never holds a partition. Offsets are committed after the rows are written, so a crash replays
 * (idempotently) rather than loses.
 */
@Injectable()
export class DispatchConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly consumer: TenantTopicConsumer;

  constructor(
    @Inject(Dispatcher) private readonly dispatcher: Dispatcher,
    @Inject(TenantConsumers) consumers: TenantConsumers,
    @Inject(CONSUMER_OPTIONS) options: ConsumerOptions,
  ) {
    this.consumer = consumers.create({
      readinessCheck: 'alerts_consumer',
      groupId: `${options.ALERTING_GROUP_ID}-dispatch`,
      contracts: [AlertEventMessage],
      // A new group starts at the end, like the evaluation side; an existing one resumes.
      fromBeginning: false,
      handle: (record) => this.handle(record),
    });
  }

  onApplicationBootstrap(): void {
    this.consumer.run();
    this.dispatcher.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.consumer.stop();
    await this.dispatcher.stop();
  }

  private async handle(record: ConsumedRecord): Promise<void> {
    if (!isMessage(record, AlertEventMessage) || record.value === null) throw new PermanentError(`unexpected record ${record.contract.id}`, 'unknown_schema');
    if (!record.tenant) throw new PermanentError('alert record without a tenant header', 'tenant');
    const e = record.value;
    await this.dispatcher.ingest({
      tenant: record.tenant,
      state: e.state,
      originAt: e.observedAt ?? Date.now(),
      alert: {
        fingerprint: e.fingerprint,
        status: e.state === 'resolved' ? 'resolved' : 'firing',
        labels: e.labels,
        annotations: e.annotations,
        value: e.value,
        startsAt: e.startsAt,
        endsAt: e.endsAt,
      },
    });
  }
}
