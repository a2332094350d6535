import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { AggregateBatchMessage } from '@headroom/contracts';
import { isMessage, PermanentError, type ConsumedRecord } from '@headroom/kafka';
import { LOGGER, METRICS, type Logger } from '@headroom/runtime';
import { TenantConsumers, type TenantTopicConsumer } from '@headroom/tenancy';
import type { ConfiguredSink } from './registry';
import { SinkDelivery, type DeliveryMetrics, type DeliveryPolicy } from './sink-delivery';

export const SINKS_OPTIONS = Symbol('SINKS_OPTIONS');

export interface SinksOptions {
  /** Each sink's consumer group is `<groupId>-<type>`. */
  groupId: string;
  sinks: readonly ConfiguredSink[];
  policy: DeliveryPolicy;
}

/**
 * Runs every enabled sink on its own consumer group of headroom.aggregates.v1, so each sink has its
 * own offsets, lag (`headroom_kafka_consumer_lag{group="<groupId>-<type>"}`), retries and circuit:
 * a dead store stalls only its own group, and a record's offset is committed for a sink only once
 * that sink has every window of it (the store catches up from Kafka when it returns).
 */
@Injectable()
export class SinkRunner implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly running: { delivery: SinkDelivery; consumer: TenantTopicConsumer; close: () => Promise<void> }[] = [];

  constructor(
    @Inject(SINKS_OPTIONS) options: SinksOptions,
    @Inject(TenantConsumers) consumers: TenantConsumers,
    @Inject(METRICS) registry: Registry,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    const metrics: DeliveryMetrics = {
      points: new Counter({
        name: 'headroom_exporter_points_total',
        help: 'Aggregate windows per sink by outcome: exported, rejected (sent to the DLQ), skipped (tenant not exported to this sink), failed (windows in failed attempts; retried, so they count again until exported).',
        labelNames: ['sink', 'outcome'],
        registers: [registry],
      }),
      writeSeconds: new Histogram({
        name: 'headroom_exporter_write_seconds',
        help: "Duration of one sink write (one record's windows for one tenant), successful or not.",
        labelNames: ['sink'],
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        registers: [registry],
      }),
      up: new Gauge({
        name: 'headroom_exporter_sink_up',
        help: "1 while the sink's circuit is closed, 0 while it is open (consecutive write failures; retried with backoff).",
        labelNames: ['sink'],
        registers: [registry],
      }),
    };
    for (const configured of options.sinks) {
      const sink = configured.create();
      const delivery = new SinkDelivery(sink, options.policy, metrics, logger, configured.tenants ? new Set(configured.tenants) : undefined);
      const consumer = consumers.create({
        readinessCheck: `sink_${sink.type}_consumer`,
        groupId: `${options.groupId}-${sink.type}`,
        contracts: [AggregateBatchMessage],
        // An outage is waited out, however long (see DeliveryPolicy.holdMs); only a rejection ends in the DLQ.
        maxHandlerAttempts: Number.POSITIVE_INFINITY,
        handle: (record) => this.handle(delivery, record),
      });
      this.running.push({ delivery, consumer, close: async () => sink.close?.() });
    }
  }

  onApplicationBootstrap(): void {
    for (const { delivery, consumer } of this.running) {
      this.logger.info({ sink: delivery.type }, 'export sink starting');
      consumer.run();
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    // Waits end at once; the records they held stay uncommitted and are exported after the restart.
    for (const { delivery } of this.running) delivery.stop();
    await Promise.all(
      this.running.map(async ({ consumer, close, delivery }) => {
        await consumer.stop();
        await close().catch((err: unknown) => this.logger.warn({ sink: delivery.type, err: String(err) }, 'sink close failed'));
      }),
    );
  }

  private async handle(delivery: SinkDelivery, record: ConsumedRecord): Promise<void> {
    if (!isMessage(record, AggregateBatchMessage) || !record.value || !record.tenant) {
      throw new PermanentError(`expected a tenant-scoped ${AggregateBatchMessage.id} record`, 'unexpected_record');
    }
    await delivery.deliver(record.tenant, record.value.windows);
  }
}
