import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { AggregateBatchMessage } from '@headroom/contracts';
import { isMessage, PermanentError, RecordConsumer, type ConsumedRecord, type ConsumerMetrics, type KafkaClient, type RecordPublisher } from '@headroom/kafka';
import type { TenantKeyring } from '@headroom/crypto';
import { LOGGER, READINESS, type Logger, type Readiness } from '@headroom/runtime';
import { CONTROL_SYNC, KAFKA, KAFKA_METRICS, KEYRING, PUBLISHER } from '@headroom/tenancy';
import { AlertingService } from './alerting.service';
import { CONSUMER_OPTIONS, type ConsumerOptions } from './tokens';

const CONTROL_POLL_MS = 100;

/**
 * Thin: reads headroom.aggregates.v1 and hands each tenant's batch to the service. Starts only once
 * the control topic is caught up (rules, locales and data keys are known), so a window is never
 * judged against a partial view of its tenant's rules.
 */
@Injectable()
export class AlertingConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly consumer: RecordConsumer;
  private starting: Promise<void> | undefined;
  private stopping = false;

  constructor(
    @Inject(AlertingService) private readonly alerting: AlertingService,
    @Inject(KAFKA) kafka: KafkaClient,
    @Inject(KEYRING) keyring: TenantKeyring,
    @Inject(PUBLISHER) dlq: RecordPublisher,
    @Inject(KAFKA_METRICS) metrics: ConsumerMetrics,
    @Inject(READINESS) private readonly readiness: Readiness,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(CONSUMER_OPTIONS) options: ConsumerOptions,
    @Inject(CONTROL_SYNC) syncKeys: () => Promise<void>,
  ) {
    this.consumer = new RecordConsumer(kafka, {
      service: 'alerting',
      groupId: options.ALERTING_GROUP_ID,
      unknownKeyGraceMs: options.ALERTING_UNKNOWN_KEY_GRACE_MS,
      // An unknown tenant key is checked against the control topic's current end, then dead-lettered.
      syncKeys,
      contracts: [AggregateBatchMessage],
      keyring,
      dlq,
      logger,
      metrics,
      // A new group starts at the end: paging now about a week of retained windows helps nobody.
      // An existing group resumes from its committed offsets either way.
      fromBeginning: false,
      handle: (record) => this.handle(record),
    });
  }

  onApplicationBootstrap(): void {
    this.readiness.register('aggregates_consumer', () => this.consumer.isRunning());
    // Not awaited: /healthz must answer while the control topic is still loading.
    this.starting = this.startWhenControlCaughtUp().catch((err: unknown) => {
      this.logger.error({ err: err instanceof Error ? err.message : String(err) }, 'aggregates consumer failed to start');
    });
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    await this.starting;
    // Lets the in-flight batch finish and commits its offsets.
    await this.consumer.stop();
  }

  private async startWhenControlCaughtUp(): Promise<void> {
    // The tenancy module reports the control topic's progress only through readiness.
    while (!this.stopping && !(await this.readiness.status()).checks['control_caught_up']) {
      await new Promise((r) => setTimeout(r, CONTROL_POLL_MS));
    }
    if (this.stopping) return;
    await this.consumer.start();
    this.logger.info('aggregates consumer started');
  }

  private async handle(record: ConsumedRecord): Promise<void> {
    if (!isMessage(record, AggregateBatchMessage) || record.value === null) throw new PermanentError(`unexpected record ${record.contract.id}`, 'unknown_schema');
    if (!record.tenant) throw new PermanentError('aggregate record without a tenant header', 'tenant');
    await this.alerting.handleBatch(record.tenant, record.value, record.traceparent);
  }
}
