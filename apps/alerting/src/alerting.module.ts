import { Inject, Injectable, Module, type DynamicModule, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import Redis from 'ioredis';
import { AlertEventMessage } from '@headroom/contracts';
import type { OutgoingRecord, RecordPublisher } from '@headroom/kafka';
import { LOGGER, READINESS, type Logger, type Readiness } from '@headroom/runtime';
import { PUBLISHER } from '@headroom/tenancy';
import type { AlertingConfig } from './config';
import { AlertingConsumer } from './alerting.consumer';
import { ALERT_SINK, AlertingService, EVALUATION_OPTIONS, type AlertSink, type EvaluationOptions } from './alerting.service';
import { RULE_STATE_STORE, RedisRuleStateStore } from './rules/rule-state-store';
import { AlertingErasure } from './erasure/alerting-erasure';
import { CONSUMER_OPTIONS, type ConsumerOptions } from './tokens';
import { AnomaliesConsumer } from './anomalies/anomalies.consumer';
import { ANOMALY_OPTIONS, AnomaliesService, type AnomalyOptions } from './anomalies/anomalies.service';
import { ANOMALY_PAGE_STORE, RedisAnomalyPageStore } from './anomalies/anomaly-page-store';
import { DispatchModule } from './dispatch/dispatch.module';

export const REDIS = Symbol('REDIS');

@Injectable()
class RedisLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(READINESS) private readonly readiness: Readiness,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async onModuleInit(): Promise<void> {
    this.readiness.register('redis', () => this.redis.status === 'ready');
    this.redis.on('error', (err: Error) => this.logger.warn({ err: err.message }, 'redis connection error'));
    // A command sent before this (an erasure read from the control topic) already started the
    // lazy connection; connecting again would throw.
    if (this.redis.status === 'wait') await this.redis.connect();
  }

  /** Runs after the consumers have stopped (beforeApplicationShutdown). */
  async onApplicationShutdown(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/**
 * Two halves that meet only on headroom.alerts.v1: evaluation (aggregates and signals in, alert
 * transitions out) and dispatch (transitions in, notifications out through the outbox).
 */
@Module({})
export class AlertingModule {
  static forRoot(config: AlertingConfig): DynamicModule {
    return {
      module: AlertingModule,
      imports: [DispatchModule.forRoot(config)],
      providers: [
        // lazyConnect: connect in onModuleInit so a wrong URL fails the boot with a clear error.
        { provide: REDIS, useFactory: () => new Redis(config.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 3 }) },
        RedisLifecycle,
        { provide: CONSUMER_OPTIONS, useValue: { ALERTING_GROUP_ID: config.ALERTING_GROUP_ID } satisfies ConsumerOptions },
        {
          provide: ALERT_SINK,
          inject: [PUBLISHER],
          useFactory: (publisher: RecordPublisher): AlertSink => ({
            publish: (records: OutgoingRecord<typeof AlertEventMessage>[]) => publisher.publish(AlertEventMessage, records),
          }),
        },
        { provide: RULE_STATE_STORE, inject: [REDIS], useFactory: (redis: Redis) => new RedisRuleStateStore(redis) },
        { provide: EVALUATION_OPTIONS, useValue: { settleMs: config.ALERTING_SETTLE_MS } satisfies EvaluationOptions },
        AlertingService,
        AlertingConsumer,
        { provide: ANOMALY_OPTIONS, useValue: { burstMs: config.ALERTING_ANOMALY_BURST_MINUTES * 60_000 } satisfies AnomalyOptions },
        { provide: ANOMALY_PAGE_STORE, inject: [REDIS], useFactory: (redis: Redis) => new RedisAnomalyPageStore(redis) },
        AnomaliesService,
        AnomaliesConsumer,
        AlertingErasure,
      ],
      exports: [AlertingService],
    };
  }
}
