import { DynamicModule, Global, Inject, Injectable, Module, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Counter, type Registry } from 'prom-client';
import { ControlRecordMessage, DlqRecordMessage } from '@headroom/contracts';
import { ControlRecordSigner, ControlRecordVerifier, KeyEncryptionKey, SigningClock, TenantKeyring } from '@headroom/crypto';
import {
  CompactedTopicReader,
  createKafkaClient,
  createKafkaMetrics,
  describeKafkaTarget,
  dlqEntryThatFits,
  RecordPublisher,
  recordByteLimit,
  type KafkaClient,
  type KafkaConnectionSettings,
  type RefusedRecord,
} from '@headroom/kafka';
import { LOGGER, METRICS, READINESS, type Logger, type Readiness } from '@headroom/runtime';
import { TenantDirectory } from './tenant-directory';
import { CONTROL_READY, CONTROL_SYNC, KAFKA, KAFKA_METRICS, KEYRING, PUBLISHER, SIGNING_CLOCK, TENANCY_SERVICE } from './tokens';
import { TenantConsumers } from './tenant-topic-consumer';
import { APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import { Authenticator, AUTH_DENIALS, AuthGuard, RouteCatalog } from './auth';
import { AuditTrail } from './audit-trail';
import { AuditInterceptor } from './audit.interceptor';

export interface TenancyOptions {
  service: string;
  /** Brokers, client id and TLS/SASL settings: `kafkaConnectionFromConfig(config, service)` (@headroom/config). */
  kafka: KafkaConnectionSettings;
  kekBase64: string;
  kekId: string;
  /** During a KEK rotation (HEADROOM_KEK_PREVIOUS / _ID): keys still wrapped under the old KEK keep unwrapping. */
  kekPreviousBase64?: string;
  kekPreviousId?: string;
  /** Control's Ed25519 public key(s), base64 SPKI, comma-separated (HEADROOM_CONTROL_PUBLIC_KEY): control records not signed by one are refused. */
  controlPublicKeys: string;
  /** Control only (CONTROL_SIGNING_KEY): the private key its publisher signs control records with. */
  controlSigningKey?: string;
  /** Control only (CONTROL_ADMIN_TOKEN): the bootstrap platform-admin credential (see auth/authenticator.ts). */
  platformAdminToken?: string;
}

const CONTROL_VERIFIER = Symbol('CONTROL_VERIFIER');

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
    @Inject(CONTROL_VERIFIER) private readonly verifier: ControlRecordVerifier,
    @Inject(METRICS) registry: Registry,
  ) {
    this.refusedCount = new Counter({ name: 'headroom_control_records_refused_total', help: 'Control records not applied: unsigned, not signed by control, or replayed over a newer one', labelNames: ['code'], registers: [registry] });
    this.started = new Promise<void>((resolve) => (this.markStarted = resolve));
  }

  private readonly refusedCount: Counter<'code'>;
  private readonly refusedAtBoot = new Map<string, number>();
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
      verify: this.verifier,
      refused: (r) => this.deadLetter(r),
    });
    this.readiness.register('kafka_producer', () => this.publisher.isConnected());
    this.readiness.register('control_caught_up', () => this.reader?.caughtUp() ?? false);
    await this.publisher.connect();
    await this.reader.start();
    this.markStarted();
    void this.reader.waitUntilCaughtUp().then(() => {
      if (this.refusedAtBoot.size > 0) this.logger.warn({ refused: Object.fromEntries(this.refusedAtBoot) }, 'control records refused while reading the control topic at start (not signed by control, or replayed)');
    });
  }

  /**
   * A refused control record goes to the DLQ with the reason, by every service that read it live: an
   * operator sees who tried what, and each service's refusal on its own. What is refused while the
   * topic is re-read at boot was dead-lettered by the services running when it arrived (or is old
   * unsigned history compaction has not removed yet): it is counted and summed up in one log line
   * instead of being dead-lettered again at every start. Fire and forget: the view must keep
   * following the topic.
   */
  private deadLetter(r: RefusedRecord): void {
    this.refusedCount.inc({ code: r.code });
    if (!this.reader?.caughtUp()) {
      this.refusedAtBoot.set(r.code, (this.refusedAtBoot.get(r.code) ?? 0) + 1);
      return;
    }
    const entry = dlqEntryThatFits(
      {
        failedAt: new Date().toISOString(),
        service: this.service,
        consumerGroup: `${this.service}-control`,
        reason: r.reason.slice(0, 2000),
        code: r.code,
        source: { topic: r.topic, partition: r.partition, offset: r.offset, key: r.key, headers: r.headers },
        value: r.value ? r.value.toString('base64') : null,
        ...(r.value ? { valueBytes: r.value.length } : {}),
      },
      recordByteLimit(DlqRecordMessage.topic),
    );
    this.publisher
      .publish(DlqRecordMessage, [{ key: `control:${r.key ?? r.offset}`.slice(0, 512), value: entry }])
      .catch((err) => this.logger.error({ err: String(err), code: r.code }, 'could not dead-letter a refused control record'));
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
        {
          provide: KEYRING,
          useFactory: () =>
            new TenantKeyring(
              KeyEncryptionKey.fromBase64(options.kekBase64, options.kekId),
              options.kekPreviousBase64 && options.kekPreviousId ? [KeyEncryptionKey.fromBase64(options.kekPreviousBase64, options.kekPreviousId)] : [],
            ),
        },
        { provide: CONTROL_VERIFIER, useFactory: () => ControlRecordVerifier.fromBase64List(options.controlPublicKeys) },
        { provide: TenantDirectory, inject: [KEYRING], useFactory: (k: TenantKeyring) => new TenantDirectory(k) },
        { provide: KAFKA_METRICS, inject: [METRICS], useFactory: (registry: Registry) => createKafkaMetrics(registry) },
        { provide: SIGNING_CLOCK, useFactory: () => (options.controlSigningKey ? new SigningClock() : undefined) },
        {
          provide: PUBLISHER,
          inject: [KAFKA, KEYRING, KAFKA_METRICS, SIGNING_CLOCK],
          useFactory: (kafka: KafkaClient, keyring: TenantKeyring, m: ReturnType<typeof createKafkaMetrics>, clock: SigningClock | undefined) =>
            new RecordPublisher(kafka, keyring, m.produced, {
              ...(options.controlSigningKey ? { signer: { topics: new Set([ControlRecordMessage.topic.name]), signer: ControlRecordSigner.fromBase64(options.controlSigningKey, clock) } } : {}),
            }),
        },
        TenancyLifecycle,
        { provide: CONTROL_SYNC, inject: [TenancyLifecycle], useFactory: (l: TenancyLifecycle) => () => l.syncToLatest() },
        { provide: CONTROL_READY, inject: [TenancyLifecycle], useFactory: (l: TenancyLifecycle) => () => l.controlCaughtUp() },
        TenantConsumers,
        AuditTrail,
        { provide: Authenticator, inject: [TenantDirectory], useFactory: (d: TenantDirectory) => new Authenticator(d, { platformToken: options.platformAdminToken }) },
        { provide: AUTH_DENIALS, useExisting: AuditTrail },
        { provide: APP_GUARD, useClass: AuthGuard },
        RouteCatalog,
        { provide: APP_INTERCEPTOR, useClass: AuditInterceptor },
      ],
      exports: [KAFKA, KEYRING, TenantDirectory, KAFKA_METRICS, PUBLISHER, SIGNING_CLOCK, CONTROL_SYNC, CONTROL_READY, TenantConsumers, TENANCY_SERVICE, AuditTrail, Authenticator],
    };
  }
}
