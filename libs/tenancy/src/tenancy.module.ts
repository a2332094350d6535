import { DynamicModule, Global, Inject, Injectable, Module, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { Registry } from 'prom-client';
import { ControlRecordMessage } from '@headroom/contracts';
import { KeyEncryptionKey, TenantKeyring } from '@headroom/crypto';
import { CompactedTopicReader, createKafkaClient, createKafkaMetrics, describeKafkaTarget, RecordPublisher, type KafkaClient, type KafkaConnectionSettings } from '@headroom/kafka';
import { LOGGER, METRICS, READINESS, type Logger, type Readiness } from '@headroom/runtime';
import { TenantDirectory } from './tenant-directory';
import { CONTROL_READY, CONTROL_SYNC, KAFKA, KAFKA_METRICS, KEYRING, PUBLISHER, TENANCY_SERVICE } from './tokens';
import { TenantConsumers } from './tenant-topic-consumer';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { AuditTrail } from './audit-trail';
import { AuditInterceptor } from './audit.interceptor';

export interface TenancyOptions {
  service: string;
  /** Brokers, client id and TLS/SASL settings: `kafkaConnectionFromConfig(config, service)` (@headroom/config). */
  kafka: KafkaConnectionSettings;
  kekBase64: string;
  kekId: string;
}

/**
 * Per-service platform wiring: the Kafka client, the tenant keyring (unwrapping data keys with the
 * deployment's KEK), the tenant directory fed by the control topic, and a connected publisher.
 * The service is ready only once the control topic has been read up to where it was at start.
 */
@Injectable()
class TenancyLifecycle implements OnModuleInit, OnApplicationShutdown {
  private reader: CompactedTopicReader | undefined;

  constructor(
    @Inject(KAFKA) private readonly kafka: KafkaClient,
    @Inject(PUBLISHER) private readonly publisher: RecordPublisher,
    @Inject(TenantDirectory) private readonly directory: TenantDirectory,
    @Inject(READINESS) private readonly readiness: Readiness,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(TENANCY_SERVICE) private readonly service: string,
  ) {
    this.started = new Promise<void>((resolve) => (this.markStarted = resolve));
  }

  private readonly started: Promise<void>;
  private markStarted!: () => void;

  /** Resolves once the control topic has been read up to where it was when this service started. */
  async controlCaughtUp(): Promise<void> {
    await this.started;
    await this.reader!.waitUntilCaughtUp();
  }

  syncToLatest(): Promise<void> {
    return this.reader ? this.reader.syncToLatest() : Promise.reject(new Error('control reader not started'));
  }

  async onModuleInit(): Promise<void> {
    this.reader = new CompactedTopicReader(this.kafka, {
      contract: ControlRecordMessage,
      groupPrefix: `${this.service}-control`,
      logger: this.logger,
      apply: (key, value) => this.directory.apply(key, value),
    });
    this.readiness.register('kafka_producer', () => this.publisher.isConnected());
    this.readiness.register('control_caught_up', () => this.reader?.caughtUp() ?? false);
    await this.publisher.connect();
    await this.reader.start();
    this.markStarted();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.reader?.stop();
    await this.publisher.disconnect();
  }
}

@Global()
@Module({})
export class TenancyModule {
  static forRoot(options: TenancyOptions): DynamicModule {
    return {
      module: TenancyModule,
      providers: [
        { provide: TENANCY_SERVICE, useValue: options.service },
        {
          provide: KAFKA,
          inject: [LOGGER],
          useFactory: (logger: Logger) => {
            // Which cluster and how (protocol, SASL mechanism and user; never the password).
            logger.info({ kafka: describeKafkaTarget(options.kafka), clientId: options.kafka.clientId }, 'kafka client');
            return createKafkaClient({ ...options.kafka, logger });
          },
        },
        { provide: KEYRING, useFactory: () => new TenantKeyring(KeyEncryptionKey.fromBase64(options.kekBase64, options.kekId)) },
        { provide: TenantDirectory, inject: [KEYRING], useFactory: (k: TenantKeyring) => new TenantDirectory(k) },
        { provide: KAFKA_METRICS, inject: [METRICS], useFactory: (registry: Registry) => createKafkaMetrics(registry) },
        {
          provide: PUBLISHER,
          inject: [KAFKA, KEYRING, KAFKA_METRICS],
          useFactory: (kafka: KafkaClient, keyring: TenantKeyring, m: ReturnType<typeof createKafkaMetrics>) => new RecordPublisher(kafka, keyring, m.produced),
        },
        TenancyLifecycle,
        { provide: CONTROL_SYNC, inject: [TenancyLifecycle], useFactory: (l: TenancyLifecycle) => () => l.syncToLatest() },
        { provide: CONTROL_READY, inject: [TenancyLifecycle], useFactory: (l: TenancyLifecycle) => () => l.controlCaughtUp() },
        TenantConsumers,
        AuditTrail,
        { provide: APP_INTERCEPTOR, useClass: AuditInterceptor },
      ],
      exports: [KAFKA, KEYRING, TenantDirectory, KAFKA_METRICS, PUBLISHER, CONTROL_SYNC, CONTROL_READY, TenantConsumers, TENANCY_SERVICE, AuditTrail],
    };
  }
}
