import { Inject, Injectable, Module, type DynamicModule, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import Redis from 'ioredis';
import { LOGGER, READINESS, type Logger, type Readiness } from '@headroom/runtime';
import type { CollectorsConfig } from '../config';
import { IdempotencyStore } from './idempotency';
import { ActiveSeriesCache, TenantAdmission } from './tenant-admission';

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
    await this.redis.connect();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/** The per-tenant limits shared by every collectors replica, in Redis. */
@Module({})
export class LimitsModule {
  static forRoot(config: CollectorsConfig): DynamicModule {
    return {
      module: LimitsModule,
      providers: [
        {
          provide: REDIS,
          // No offline queue and a command timeout: when Redis is away a batch is refused (503) at once
          // instead of waiting, and never accepted without its limits.
          useFactory: () => new Redis(config.REDIS_URL, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 2_000 }),
        },
        { provide: TenantAdmission, inject: [REDIS], useFactory: (redis: Redis) => new TenantAdmission(redis, config.ACTIVE_SERIES_IDLE_MS) },
        // Refreshed at a quarter of the idle timeout: a series sending points never expires in Redis.
        { provide: ActiveSeriesCache, useFactory: () => new ActiveSeriesCache(Math.floor(config.ACTIVE_SERIES_IDLE_MS / 4)) },
        { provide: IdempotencyStore, inject: [REDIS], useFactory: (redis: Redis) => new IdempotencyStore(redis, config.IDEMPOTENCY_TTL_SECONDS) },
        RedisLifecycle,
      ],
      exports: [TenantAdmission, ActiveSeriesCache, IdempotencyStore],
    };
  }
}
