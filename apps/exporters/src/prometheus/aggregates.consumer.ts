import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { AggregateBatchMessage } from '@headroom/contracts';
import type { TenantKeyring } from '@headroom/crypto';
import { isMessage, PermanentError, RecordConsumer, type ConsumedRecord, type ConsumerMetrics, type KafkaClient, type RecordPublisher } from '@headroom/kafka';
import { LOGGER, READINESS, type Logger, type Readiness } from '@headroom/runtime';
import { CONTROL_SYNC, KAFKA, KAFKA_METRICS, KEYRING, PUBLISHER } from '@headroom/tenancy';
import { PROMETHEUS_OPTIONS, PrometheusService, type PrometheusOptions } from './prometheus.service';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Feeds closed windows from the aggregates topic to the Prometheus service. Starts only once the
 * control topic is caught up (before that, tenants' data keys may be missing and records would wait
 * in retries), and stops before shutdown so the in-flight batch finishes and its offsets are committed.
 */
@Injectable()
export class AggregatesConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private consumer: RecordConsumer | undefined;
  private starting: Promise<void> | undefined;
  private stopping = false;

  constructor(
    @Inject(PrometheusService) private readonly prometheus: PrometheusService,
    @Inject(KAFKA) private readonly kafka: KafkaClient,
    @Inject(KEYRING) private readonly keyring: TenantKeyring,
    @Inject(PUBLISHER) private readonly dlq: RecordPublisher,
    @Inject(KAFKA_METRICS) private readonly metrics: ConsumerMetrics,
    @Inject(READINESS) private readonly readiness: Readiness,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(PROMETHEUS_OPTIONS) private readonly options: PrometheusOptions,
    @Inject(CONTROL_SYNC) private readonly syncKeys: () => Promise<void>,
  ) {}

  onApplicationBootstrap(): void {
    this.readiness.register('aggregates_consumer', () => this.consumer?.isRunning() ?? false);
    // Not awaited: the HTTP server must come up (health, readiness) while the control topic loads.
    this.starting = this.startWhenControlCaughtUp();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    await this.starting;
    await this.consumer?.stop();
  }

  private async handle(record: ConsumedRecord): Promise<void> {
    if (!isMessage(record, AggregateBatchMessage) || !record.value || !record.tenant) {
      throw new PermanentError(`expected a tenant-scoped ${AggregateBatchMessage.id} record`, 'unexpected_record');
    }
    // The tenant is the record's authenticated tenant (its payload decrypted under that tenant's key).
    await this.prometheus.record(record.tenant, record.value.windows);
  }

  private async startWhenControlCaughtUp(): Promise<void> {
    for (let attempt = 0; !this.stopping; attempt++) {
      // The service's own readiness includes this consumer, so wait for the control check alone.
      const { checks } = await this.readiness.status();
      if (!checks['control_caught_up']) {
        await sleep(200);
        continue;
      }
      const consumer = new RecordConsumer(this.kafka, {
        service: 'exporters',
        groupId: this.options.groupId,
        contracts: [AggregateBatchMessage],
        handle: (record) => this.handle(record),
        keyring: this.keyring,
        dlq: this.dlq,
        logger: this.logger,
        metrics: this.metrics,
        unknownKeyGraceMs: this.options.unknownKeyGraceMs,
        // An unknown tenant key is checked against the control topic's current end, then dead-lettered.
        syncKeys: this.syncKeys,
      });
      try {
        await consumer.start();
        this.consumer = consumer;
        this.logger.info({ groupId: this.options.groupId }, 'consuming aggregates');
        return;
      } catch (err) {
        this.logger.error({ err: String(err), attempt }, 'could not start the aggregates consumer; retrying');
        await consumer.stop().catch(() => undefined);
        await sleep(Math.min(10_000, 500 * 2 ** Math.min(attempt, 5)));
      }
    }
  }
}
