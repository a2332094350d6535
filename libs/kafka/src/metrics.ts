import { Counter, Gauge, type Registry } from 'prom-client';
import type { ConsumerMetrics } from './consumer';

/** The Kafka layer's own metrics, registered on the service's registry. */
export function createKafkaMetrics(registry: Registry): ConsumerMetrics & { produced: Counter<'topic'> } {
  return {
    consumed: new Counter({
      name: 'headroom_kafka_records_consumed_total',
      help: 'Records consumed, by outcome (handled, dlq, erased).',
      labelNames: ['topic', 'outcome'],
      registers: [registry],
    }),
    lag: new Gauge({
      name: 'headroom_kafka_consumer_lag',
      help: 'Records between the last handled offset and the partition high watermark.',
      labelNames: ['group', 'topic', 'partition'],
      registers: [registry],
    }),
    retries: new Counter({
      name: 'headroom_kafka_handler_retries_total',
      help: 'Retries of records whose handling failed with a retriable error.',
      labelNames: ['topic'],
      registers: [registry],
    }),
    stuck: new Gauge({
      name: 'headroom_consumer_stuck_partitions',
      help: 'Partitions whose current record is being retried (handler or DLQ write failing), by consumer group.',
      labelNames: ['group'],
      registers: [registry],
    }),
    produced: new Counter({
      name: 'headroom_kafka_records_produced_total',
      help: 'Records produced, by topic.',
      labelNames: ['topic'],
      registers: [registry],
    }),
  };
}
