import { Inject, Injectable } from '@nestjs/common';
import type { TenantKeyring } from '@headroom/crypto';
import {
  RecordConsumer,
  type ConsumerMetrics,
  type KafkaClient,
  type RecordConsumerOptions,
  type RecordPublisher,
  type StuckPartition,
} from '@headroom/kafka';
import { LOGGER, READINESS, type Logger, type Readiness } from '@headroom/runtime';
import { CONTROL_READY, CONTROL_SYNC, KAFKA, KAFKA_METRICS, KEYRING, PUBLISHER, TENANCY_SERVICE } from './tokens';

export type TenantConsumerOptions = Pick<
  RecordConsumerOptions,
  'groupId' | 'contracts' | 'handle' | 'commitGate' | 'fromBeginning' | 'onRebalance' | 'maxHandlerAttempts'
> & {
  /** Name of the readiness check (`/readyz`) that is true while this consumer runs. */
  readinessCheck: string;
  /**
   * Opt-in: also report not ready (check `<readinessCheck>_not_stuck`) while a partition has been
   * stuck on one record for longer than this many ms (60_000 is a sensible value). Off by default:
   * readiness is shared by the whole service — request paths gate on it (the exporters' Prometheus
   * endpoints, ingest) and Kubernetes takes a not-ready pod out of its Service — so one tenant's
   * stuck record would cut every tenant off, the very thing bounded retries prevent, and a restart
   * would not help (readiness does not restart a pod). With `maxHandlerAttempts` a poison record
   * leaves the partition within seconds; what stays stuck longer is systemic (DLQ unwritable, a
   * tenant key missing), which `headroom_consumer_stuck_partitions` shows: alert on it being > 0
   * for 1 minute. Enable this only in a service whose readiness gates nothing tenant-facing.
   */
  stuckReadinessMs?: number;
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A RecordConsumer of tenant topics, wired the same way in every service: the tenant keyring, the DLQ,
 * the Kafka metrics, and unknown keys resolved against the control topic. `run()` starts it only once
 * the control topic is caught up (records are never judged against a partial view of tenants), and
 * retries a failed start with backoff, in the background so /healthz answers meanwhile.
 */
export class TenantTopicConsumer {
  private readonly consumer: RecordConsumer;
  private starting: Promise<void> | undefined;
  private stopping = false;

  constructor(
    private readonly deps: TenantConsumerDeps,
    private readonly opts: TenantConsumerOptions,
  ) {
    const { readinessCheck: _check, stuckReadinessMs: _stuck, ...consumerOpts } = opts;
    this.consumer = new RecordConsumer(deps.kafka, {
      ...consumerOpts,
      service: deps.service,
      keyring: deps.keyring,
      dlq: deps.dlq,
      logger: deps.logger,
      metrics: deps.metrics,
      syncKeys: deps.syncKeys,
    });
  }

  isRunning(): boolean {
    return this.consumer.isRunning();
  }

  backlog(): number {
    return this.consumer.backlog();
  }

  /** Back-pressure (e.g. too many unsaved windows): stop fetching and handling until `resume()`. */
  pause(): void {
    this.consumer.pause();
  }

  resume(): void {
    this.consumer.resume();
  }

  isPaused(): boolean {
    return this.consumer.isPaused();
  }

  /** No backlog, not paused, and the broker answered a fetch within `maxFetchAgeMs` (see RecordConsumer.caughtUp). */
  caughtUp(maxFetchAgeMs?: number): boolean {
    return this.consumer.caughtUp(maxFetchAgeMs);
  }

  /** Partitions held up by a record being retried, with since when. */
  stuckPartitions(): StuckPartition[] {
    return this.consumer.stuckPartitions();
  }

  /** Registers the readiness check(s) and starts in the background (see the class comment). */
  run(): void {
    this.deps.readiness.register(this.opts.readinessCheck, () => this.consumer.isRunning());
    const stuckMs = this.opts.stuckReadinessMs;
    if (stuckMs !== undefined) {
      this.deps.readiness.register(`${this.opts.readinessCheck}_not_stuck`, () => {
        const now = Date.now();
        return this.consumer.stuckPartitions().every((p) => now - p.since <= stuckMs);
      });
    }
    this.starting = this.startWhenControlReady();
  }

  private async startWhenControlReady(): Promise<void> {
    await this.deps.controlReady();
    for (let attempt = 0; !this.stopping; attempt++) {
      try {
        await this.consumer.start();
        this.deps.logger.info({ groupId: this.opts.groupId }, 'consumer started');
        return;
      } catch (err) {
        this.deps.logger.error({ err: String(err), attempt, groupId: this.opts.groupId }, 'consumer failed to start; retrying');
        await sleep(Math.min(10_000, 500 * 2 ** Math.min(attempt, 5)));
      }
    }
  }

  /** Commits what the in-flight batch handled; `finalize` runs before the last commit (see RecordConsumer.stop). */
  async stop(finalize?: () => Promise<void>): Promise<void> {
    this.stopping = true;
    await this.starting;
    await this.consumer.stop(finalize);
  }

  commit(): Promise<void> {
    return this.consumer.commit();
  }
}

interface TenantConsumerDeps {
  service: string;
  kafka: KafkaClient;
  keyring: TenantKeyring;
  dlq: RecordPublisher;
  logger: Logger;
  metrics: ConsumerMetrics;
  syncKeys: () => Promise<void>;
  controlReady: () => Promise<void>;
  readiness: Readiness;
}

/** Injectable factory: `consumers.create({ groupId, contracts, handle })`. */
@Injectable()
export class TenantConsumers {
  private readonly deps: TenantConsumerDeps;

  constructor(
    @Inject(TENANCY_SERVICE) service: string,
    @Inject(KAFKA) kafka: KafkaClient,
    @Inject(KEYRING) keyring: TenantKeyring,
    @Inject(PUBLISHER) dlq: RecordPublisher,
    @Inject(LOGGER) logger: Logger,
    @Inject(KAFKA_METRICS) metrics: ConsumerMetrics,
    @Inject(CONTROL_SYNC) syncKeys: () => Promise<void>,
    @Inject(CONTROL_READY) controlReady: () => Promise<void>,
    @Inject(READINESS) readiness: Readiness,
  ) {
    this.deps = { service, kafka, keyring, dlq, logger, metrics, syncKeys, controlReady, readiness };
  }

  create(opts: TenantConsumerOptions): TenantTopicConsumer {
    return new TenantTopicConsumer(this.deps, opts);
  }
}
