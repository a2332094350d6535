import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { ErasureAckMessage } from '@headroom/contracts';
import { isMessage, type RecordPublisher } from '@headroom/kafka';
import { LOGGER, type Logger } from '@headroom/runtime';
import { CONTROL_READY, ErasureParticipant, PUBLISHER, TenantConsumers, TenantDirectory, type TenantTopicConsumer } from '@headroom/tenancy';
import { ErasureService } from './erasure.service';

/** Thin: every service's acknowledgements into the saga's progress. */
@Injectable()
export class ErasureConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly consumer: TenantTopicConsumer;

  constructor(
    @Inject(ErasureService) private readonly erasures: ErasureService,
    @Inject(TenantConsumers) consumers: TenantConsumers,
  ) {
    this.consumer = consumers.create({
      readinessCheck: 'erasure_consumer',
      groupId: 'control-erasure',
      contracts: [ErasureAckMessage],
      handle: async (record) => {
        if (isMessage(record, ErasureAckMessage) && record.value) await this.erasures.acknowledge(record.value);
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

/**
 * Control's own part: it keeps nothing about a data subject (the user id is never stored; the
 * request's pseudonym is dropped when the saga completes). Of an erased tenant, its tenants, keys
 * and configuration rows went in the erasure's transaction; the audit trail stays, on purpose.
 */
@Injectable()
export class ControlErasure implements OnApplicationShutdown {
  private readonly participant: ErasureParticipant;

  constructor(
    @Inject(TenantDirectory) directory: TenantDirectory,
    @Inject(PUBLISHER) publisher: RecordPublisher,
    @Inject(LOGGER) logger: Logger,
    @Inject(CONTROL_READY) ready: () => Promise<void>,
  ) {
    this.participant = new ErasureParticipant(
      'control',
      directory,
      publisher,
      {
        subject: async () => ({ deleted: {}, left: [] }),
        tenant: async () => ({
          deleted: {},
          left: [
            {
              store: 'control.audit_events',
              reason: 'the tenant’s audit trail is kept, append-only and hash-chained, until the audit retention (docs/audit.md): it shows who erased the tenant and when; it holds no telemetry',
            },
          ],
        }),
      },
      logger,
      { ready },
    );
  }

  onApplicationShutdown(): void {
    this.participant.stop();
  }
}
