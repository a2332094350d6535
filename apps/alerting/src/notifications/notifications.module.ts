import { Inject, Injectable, Module, type DynamicModule, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import Redis from 'ioredis';
import { LOGGER, READINESS, type Logger, type Readiness } from '@headroom/runtime';
import type { AlertingConfig } from '../config';
import { ChannelRegistry } from './notification-channel';
import { NotificationLog } from './notification-log';
import { NOTIFICATION_CHANNELS, NotificationsService } from './notifications.service';
import { slackChannelFactory } from './slack/slack.channel';

export const REDIS = Symbol('REDIS');

/** Every channel type this service knows. */
export const channelRegistry = () => new ChannelRegistry().register(slackChannelFactory);

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
    await this.redis.connect();
  }

  /** Runs after the consumer has stopped (beforeApplicationShutdown), so no send is cut off. */
  async onApplicationShutdown(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

@Module({})
export class NotificationsModule {
  static forRoot(config: AlertingConfig): DynamicModule {
    return {
      module: NotificationsModule,
      providers: [
        // lazyConnect: connect in onModuleInit so a wrong URL fails the boot with a clear error.
        { provide: REDIS, useFactory: () => new Redis(config.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 3 }) },
        { provide: NotificationLog, inject: [REDIS], useFactory: (redis: Redis) => new NotificationLog(redis) },
        {
          provide: NOTIFICATION_CHANNELS,
          useFactory: () => channelRegistry().build({ slack: { token: config.SLACK_TOKEN, apiUrl: config.SLACK_API_URL } }),
        },
        NotificationsService,
        RedisLifecycle,
      ],
      // REDIS too: the alert state store shares the connection (and its lifecycle).
      exports: [NotificationsService, REDIS],
    };
  }
}
