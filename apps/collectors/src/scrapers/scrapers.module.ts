import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Inject, Injectable, Module, type BeforeApplicationShutdown, type DynamicModule, type OnApplicationBootstrap } from '@nestjs/common';
import Redis from 'ioredis';
import type { Registry } from 'prom-client';
import { LOGGER, METRICS, METRICS_TOKEN, type Logger } from '@headroom/runtime';
import type { KafkaClient } from '@headroom/kafka';
import { CONTROL_READY, KAFKA, TenantDirectory } from '@headroom/tenancy';
import { IngestService } from '../ingest/ingest.service';
import type { ScrapersConfig } from './config';
import { RedisLeaseStore, ScrapeLeases } from './lease';
import { ScrapeScheduler } from './scheduler';

const SCRAPERS_CONFIG = Symbol('SCRAPERS_CONFIG');
const REDIS_URL = Symbol('SCRAPERS_REDIS_URL');

@Injectable()
class ScrapersLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private scheduler: ScrapeScheduler | undefined;
  private redis: Redis | undefined;

  constructor(
    @Inject(SCRAPERS_CONFIG) private readonly config: ScrapersConfig,
    @Inject(REDIS_URL) private readonly redisUrl: string,
    @Inject(IngestService) private readonly ingest: IngestService,
    @Inject(TenantDirectory) private readonly directory: TenantDirectory,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(METRICS) private readonly metrics: Registry,
    @Inject(KAFKA) private readonly kafka: KafkaClient,
    @Inject(CONTROL_READY) private readonly controlReady: () => Promise<void>,
    @Inject(METRICS_TOKEN) private readonly metricsToken: string | undefined,
  ) {}

  onApplicationBootstrap(): void {
    const instance = `${hostname()}/${process.pid}`;
    // Its own connection: lease commands fail fast when Redis is away (that cycle is skipped and counted).
    this.redis = new Redis(this.redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 2_000 });
    this.redis.on('error', (err: Error) => this.logger.debug({ err: err.message }, 'scrapers: redis connection error'));
    const leases = new ScrapeLeases(new RedisLeaseStore(this.redis), `${instance}/${randomUUID()}`, this.config.leaseMs);
    this.scheduler = new ScrapeScheduler(this.config, {
      leases,
      tenantKnown: (t) => this.directory.tenant(t) !== undefined && !this.directory.isErased(t),
      submit: (tenant, body, opts) => this.ingest.submit(tenant, body, opts),
      logger: this.logger,
      metrics: this.metrics,
      instance,
      kafka: this.kafka,
      metricsToken: this.metricsToken,
    });
    // Once the control topic is read (the tenant is known by then, if it exists): no false unknown_tenant at boot.
    const scheduler = this.scheduler;
    void this.controlReady().then(
      () => scheduler.start(),
      () => scheduler.start(),
    );
    this.logger.info(
      { tenant: this.config.tenant, intervalMs: this.config.intervalMs, scrapers: this.config.scrapers.map((s) => `${s.name} (${s.factory.type})`) },
      'scrapers started',
    );
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.scheduler?.stop();
    await this.redis?.quit().catch(() => this.redis?.disconnect());
  }
}

/**
 * Built-in scrapers (COLLECTORS_SCRAPERS): scheduled, leased in Redis, published through the ingest
 * edge as the configured tenant. Imported only when scrapers are configured.
 */
@Module({})
export class ScrapersModule {
  static forRoot(config: ScrapersConfig, redisUrl: string, ingest: DynamicModule): DynamicModule {
    return {
      module: ScrapersModule,
      imports: [ingest],
      providers: [{ provide: SCRAPERS_CONFIG, useValue: config }, { provide: REDIS_URL, useValue: redisUrl }, ScrapersLifecycle],
    };
  }
}
