import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { AuditEventMessage } from '@headroom/contracts';
import { isMessage } from '@headroom/kafka';
import { TenantConsumers, type TenantTopicConsumer } from '@headroom/tenancy';
import { AuditRepository } from './audit.repository';

/** Thin: audit events from every service into control's audit store. */
@Injectable()
export class AuditConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly consumer: TenantTopicConsumer;

  constructor(
    @Inject(AuditRepository) private readonly repo: AuditRepository,
    @Inject(TenantConsumers) consumers: TenantConsumers,
  ) {
    this.consumer = consumers.create({
      readinessCheck: 'audit_consumer',
      groupId: 'control-audit',
      contracts: [AuditEventMessage],
      handle: async (record) => {
        if (isMessage(record, AuditEventMessage) && record.value) await this.repo.insert(record.partition, record.offset, record.value);
      },
    });
  }

  onApplicationBootstrap(): void {
    this.consumer.run();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.consumer.stop();
  }
}
