import { Module, type DynamicModule } from '@nestjs/common';
import { AlertEventMessage } from '@headroom/contracts';
import type { OutgoingRecord, RecordPublisher } from '@headroom/kafka';
import { PUBLISHER } from '@headroom/tenancy';
import type { AlertingConfig } from './config';
import { AlertingConsumer } from './alerting.consumer';
import { ALERT_SINK, AlertingService, NOTIFIER, type AlertSink } from './alerting.service';
import { NotificationsModule, REDIS } from './notifications/notifications.module';
import { ALERT_STATE_STORE, RedisAlertStateStore } from './rules/alert-state-store';
import type Redis from 'ioredis';
import { NotificationsService } from './notifications/notifications.service';
import { CONSUMER_OPTIONS, type ConsumerOptions } from './tokens';
import { AnomaliesConsumer } from './anomalies/anomalies.consumer';
import { ANOMALY_OPTIONS, AnomaliesService, type AnomalyOptions } from './anomalies/anomalies.service';
import { ANOMALY_PAGE_STORE, RedisAnomalyPageStore } from './anomalies/anomaly-page-store';

@Module({})
export class AlertingModule {
  static forRoot(config: AlertingConfig): DynamicModule {
    return {
      module: AlertingModule,
      imports: [NotificationsModule.forRoot(config)],
      providers: [
        {
          provide: CONSUMER_OPTIONS,
          useValue: { ALERTING_GROUP_ID: config.ALERTING_GROUP_ID, } satisfies ConsumerOptions,
        },
        { provide: NOTIFIER, useExisting: NotificationsService },
        {
          provide: ALERT_SINK,
          inject: [PUBLISHER],
          useFactory: (publisher: RecordPublisher): AlertSink => ({
            publish: (records: OutgoingRecord<typeof AlertEventMessage>[]) => publisher.publish(AlertEventMessage, records),
          }),
        },
        { provide: ALERT_STATE_STORE, inject: [REDIS], useFactory: (redis: Redis) => new RedisAlertStateStore(redis) },
        AlertingService,
        AlertingConsumer,
        { provide: ANOMALY_OPTIONS, useValue: { burstMs: config.ALERTING_ANOMALY_BURST_MINUTES * 60_000 } satisfies AnomalyOptions },
        { provide: ANOMALY_PAGE_STORE, inject: [REDIS], useFactory: (redis: Redis) => new RedisAnomalyPageStore(redis) },
        AnomaliesService,
        AnomaliesConsumer,
      ],
    };
  }
}
