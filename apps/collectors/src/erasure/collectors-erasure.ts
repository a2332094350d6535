import { Inject, Injectable, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import Redis from 'ioredis';
import type { RecordPublisher } from '@headroom/kafka';
import { LOGGER, type Logger } from '@headroom/runtime';
import { CONTROL_READY, ErasureParticipant, PUBLISHER, TenantDirectory, type ErasureOutcome } from '@headroom/tenancy';

const ERASURE_REDIS = Symbol('ERASURE_REDIS');

/**
 * collectors' part of the erasure saga. It keeps nothing about a data subject: user ids are
 * pseudonymised as a batch comes in and go straight to Kafka; the series limit keeps hashed series
 * ids (Redis, expiring after ACTIVE_SERIES_IDLE_MS). So a subject erasure is acknowledged `done`
 * with nothing deleted. A tenant erasure deletes the tenant's Redis state: rate bucket, active
 * series, idempotency answers (`hr:{<tenant>}:*`) and scraper leases (`hr:scraper:lease:<tenant>:*`).
 * Tenant ids are [a-z0-9-], so these SCAN patterns match that tenant only.
 */
@Injectable()
export class CollectorsErasure implements OnApplicationShutdown {
  private readonly participant: ErasureParticipant;

  constructor(
    @Inject(ERASURE_REDIS) private readonly redis: Redis,
    @Inject(TenantDirectory) directory: TenantDirectory,
    @Inject(PUBLISHER) publisher: RecordPublisher,
    @Inject(LOGGER) logger: Logger,
    @Inject(CONTROL_READY) ready: () => Promise<void>,
  ) {
    this.participant = new ErasureParticipant('collectors', directory, publisher, { subject: async () => ({ deleted: {}, left: [] }), tenant: (t) => this.tenant(t) }, logger, { ready });
  }

  async onApplicationShutdown(): Promise<void> {
    this.participant.stop();
    // Never connected (no tenant erased since boot): nothing to close gracefully.
    if (this.redis.status === 'wait') this.redis.disconnect();
    else await this.redis.quit().catch(() => this.redis.disconnect());
  }

  async tenant(tenant: string): Promise<ErasureOutcome> {
    return {
      deleted: {
        'redis:ingest_limits': await this.unlinkMatching(`hr:{${tenant}}:*`),
        'redis:scraper_leases': await this.unlinkMatching(`hr:scraper:lease:${tenant}:*`),
      },
      left: [],
    };
  }

  private async unlinkMatching(pattern: string): Promise<number> {
    let deleted = 0;
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      if (keys.length) deleted += await this.redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
    return deleted;
  }
}

@Module({})
export class CollectorsErasureModule {
  static forRoot(redisUrl: string): DynamicModule {
    return {
      module: CollectorsErasureModule,
      providers: [
        // Its own connection, opened on the first erasure: the ingest path's client fails fast and never queues.
        { provide: ERASURE_REDIS, useFactory: () => new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 3 }) },
        CollectorsErasure,
      ],
    };
  }
}
