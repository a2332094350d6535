import {
  ControlRecordMessage,
  MAX_POINTS_PER_BATCH,
  resolveTenantLimits,
  TelemetryBatchMessage,
  validateIngestBatch,
  type Labels,
  type MetricPoint,
  type PlatformEvent,
  type TenantLimits,
  type TenantRecord,
} from '@headroom/contracts';
import { ControlRecordVerifier, CryptoError, KeyEncryptionKey, TenantKeyring } from '@headroom/crypto';
import { CompactedTopicReader, createKafkaClient, RecordPublisher, type KafkaLogger, type KafkaSecurity, type OutgoingRecord } from '@headroom/kafka';
import { TenantDirectory } from '@headroom/tenancy';
import { InvalidTelemetryError, PublisherClosedError, RecordAbortedError, TelemetryPublishError, TenantUnavailableError } from './errors';
import { pseudonymiseEvent, splitTelemetryBatch, telemetryRecords } from './telemetry-records';

/** A point as a caller gives it: labels may be left out (they default to `{}`, as at the edge). */
export type PointInput = Omit<MetricPoint, 'labels'> & { labels?: Labels };

/** Where sealed batches go: `RecordPublisher.publish(TelemetryBatchMessage, …)` in production, a fake in specs. */
export interface TelemetrySink {
  /** Resolves once Kafka acknowledged every record (acks=all), rejects if it did not. */
  publish(records: OutgoingRecord<typeof TelemetryBatchMessage>[]): Promise<void>;
}

/** What the publisher reads about its tenant: a TenantDirectory fed by the control topic. */
export type TenantView = Pick<TenantDirectory, 'tenant' | 'isErased' | 'keyring'>;

export interface TelemetryPublisherSettings {
  /** The tenant every point is published for (the library never takes a tenant per call). */
  tenant: string;
  /** TelemetryBatch.source of every record (default `publisher`). */
  source?: string;
  /** Points + events per sealed batch (default 1,000; at most 10,000, the contract's batch size). */
  maxBatchPoints?: number;
  /** How long the first item of a batch waits for company before the batch is sealed (default 50 ms). */
  lingerMs?: number;
  /**
   * Back-pressure: points + events buffered or in flight (sealed, not yet acknowledged) at most;
   * `record()` waits for room beyond it (default 20,000). A single call larger than this goes
   * through once nothing else is outstanding.
   */
  maxBufferedPoints?: number;
  /** The deployment's default limits under the tenant's overrides (as collectors' INGEST_* settings); usually empty. */
  deploymentLimits?: Partial<TenantLimits>;
  /** The clock of the time window check (default Date.now). */
  clock?: () => number;
  logger?: KafkaLogger;
  /**
   * Told of every batch Kafka did not acknowledge. Callers of `record(…, { ack: 'kafka' })` also get
   * the error from their call; with `ack: 'buffered'` this, the log and `flush()` are where it shows.
   */
  onError?: (err: TelemetryPublishError) => void;
}

export interface TelemetryPublisherOptions extends TelemetryPublisherSettings {
  brokers: readonly string[];
  /** TLS / SASL for a secured cluster (absent: PLAINTEXT); `kafkaSecurityFromConfig` in @headroom/config builds it from KAFKA_*. */
  security?: KafkaSecurity;
  /** The deployment's KEK (HEADROOM_KEK), base64 of 32 bytes: it unwraps the tenant's keys from the control topic. */
  kekBase64: string;
  /** The KEK's id (HEADROOM_KEK_ID; default `kek-1`, as the services'). */
  kekId?: string;
  /** Control's Ed25519 public key(s) (HEADROOM_CONTROL_PUBLIC_KEY): control records it did not sign are ignored. */
  controlPublicKeys: string;
  clientId: string;
  logger: KafkaLogger;
  /** How long `connect()` waits for the control topic to be read to its end (default 30 s). */
  controlTimeoutMs?: number;
}

export interface RecordOptions {
  /**
   * `kafka` (default): resolve once every point and event of the call is durably on Kafka (the same
   * promise as the edge's 202). `buffered`: resolve once the call is in the buffer (after any wait
   * for room); a later failure goes to `onError`, the log and the next `flush()`. Cheaper for a
   * request path that must not wait for a broker round trip, and back-pressure still applies.
   */
  ack?: 'kafka' | 'buffered';
  /** Give up waiting for room (back-pressure): the call rejects with RecordAbortedError, nothing recorded. */
  signal?: AbortSignal;
}

export interface TelemetryPublisherStats {
  /** Points + events in the open batch. */
  bufferedPoints: number;
  /** Points + events in sealed batches Kafka has not answered yet. */
  inFlightPoints: number;
  /** `record()` calls waiting for room. */
  waitingCalls: number;
  batchesSent: number;
  batchesFailed: number;
  pointsAcked: number;
  eventsAcked: number;
  pointsFailed: number;
  eventsFailed: number;
}

/** One `record()` call: settles once every batch holding part of it has settled. */
interface Ticket {
  parts: number;
  error: TelemetryPublishError | undefined;
  /** Resolves (never rejects) with the first failure of any of its batches. */
  done: Promise<TelemetryPublishError | undefined>;
  settle(err: TelemetryPublishError | undefined): void;
}

interface Call {
  points: MetricPoint[];
  events: PlatformEvent[];
  ticket: Ticket;
}

interface Waiter {
  call: Call;
  resolve(): void;
  reject(err: Error): void;
}

const DEFAULTS = { maxBatchPoints: 1_000, lingerMs: 50, maxBufferedPoints: 20_000, source: 'publisher' } as const;

function newTicket(): Ticket {
  let resolve!: (err: TelemetryPublishError | undefined) => void;
  const done = new Promise<TelemetryPublishError | undefined>((r) => (resolve = r));
  const ticket: Ticket = {
    parts: 0,
    error: undefined,
    done,
    settle: (err) => resolve(err),
  };
  return ticket;
}

/**
 * Telemetry straight to Kafka for trusted internal services, with the HTTP edge's rules: every
 * call is validated whole with the tenant's limits and the current clock (the edge's validator),
 * user ids of song_play / failed_login events are pseudonymised with the tenant's key, and points
 * are sealed with the tenant's data key into TelemetryBatch records (source `publisher`), grouped by
 * record key for sharded tenants and split when too large — the same code as collectors' ingest.
 *
 * Calls are buffered into batches of `maxBatchPoints`, sealed at that size or `lingerMs` after the
 * batch's first item; batches in flight share Kafka requests (RecordPublisher's group commit).
 * Memory is bounded: with `maxBufferedPoints` buffered or unacknowledged, `record()` waits (FIFO).
 * It does NOT apply the shared per-tenant rate and active-series limits of the HTTP edge (those
 * live in Redis, see docs/publisher.md).
 */
export class TelemetryPublisher {
  readonly tenant: string;
  private readonly source: string;
  private readonly maxBatchPoints: number;
  private readonly lingerMs: number;
  private readonly maxBufferedPoints: number;
  private readonly clock: () => number;

  private open: { points: MetricPoint[]; events: PlatformEvent[]; tickets: Set<Ticket> } = { points: [], events: [], tickets: new Set() };
  private lingerTimer: NodeJS.Timeout | undefined;
  private bufferedItems = 0;
  private inFlightItems = 0;
  private readonly waiters: Waiter[] = [];
  private readonly unsettled = new Set<Ticket>();
  private flushing = 0;
  private closing: Promise<void> | undefined;
  private readonly counts = { batchesSent: 0, batchesFailed: 0, pointsAcked: 0, eventsAcked: 0, pointsFailed: 0, eventsFailed: 0 };

  /** Use `TelemetryPublisher.connect()`; this constructor takes its parts (specs, or a service that already reads the control topic). */
  constructor(
    private readonly settings: TelemetryPublisherSettings,
    private readonly view: TenantView,
    private readonly sink: TelemetrySink,
    private readonly onClose: () => Promise<void> = async () => undefined,
  ) {
    this.tenant = settings.tenant;
    this.source = settings.source ?? DEFAULTS.source;
    this.maxBatchPoints = settings.maxBatchPoints ?? DEFAULTS.maxBatchPoints;
    this.lingerMs = settings.lingerMs ?? DEFAULTS.lingerMs;
    this.maxBufferedPoints = settings.maxBufferedPoints ?? Math.max(DEFAULTS.maxBufferedPoints, this.maxBatchPoints);
    this.clock = settings.clock ?? Date.now;
    if (!Number.isInteger(this.maxBatchPoints) || this.maxBatchPoints < 1 || this.maxBatchPoints > MAX_POINTS_PER_BATCH) {
      throw new RangeError(`maxBatchPoints must be an integer in 1..${MAX_POINTS_PER_BATCH}, got ${this.maxBatchPoints}`);
    }
    if (!Number.isFinite(this.lingerMs) || this.lingerMs < 0) throw new RangeError(`lingerMs must be >= 0, got ${this.lingerMs}`);
    if (!Number.isInteger(this.maxBufferedPoints) || this.maxBufferedPoints < this.maxBatchPoints) {
      throw new RangeError(`maxBufferedPoints must be an integer >= maxBatchPoints (${this.maxBatchPoints}), got ${this.maxBufferedPoints}`);
    }
    if (this.source.length < 1 || this.source.length > 128) throw new RangeError('source must be 1..128 characters');
  }

  /**
   * Connects to Kafka, reads the control topic to its end (the tenant, its limits, its data and
   * pseudonym keys unwrapped with the KEK) and keeps following it, so limit changes and erasure
   * apply while running. Refuses an unknown, erased or suspended tenant, or one without a data key.
   */
  static async connect(opts: TelemetryPublisherOptions): Promise<TelemetryPublisher> {
    const kafka = createKafkaClient({ brokers: opts.brokers, security: opts.security, clientId: opts.clientId, logger: opts.logger });
    const keyring = new TenantKeyring(KeyEncryptionKey.fromBase64(opts.kekBase64, opts.kekId ?? 'kek-1'));
    const directory = new TenantDirectory(keyring);
    const reader = new CompactedTopicReader(kafka, {
      contract: ControlRecordMessage,
      groupPrefix: `${opts.clientId}-control`,
      logger: opts.logger,
      // Only this tenant's records: the process unwraps (and holds) no other tenant's keys.
      apply: (key, value) => {
        if (concernsTenant(opts.tenant, key, value)) directory.apply(key, value);
      },
      // A forged tenant record or data key would otherwise make this process seal data under an attacker's key.
      verify: ControlRecordVerifier.fromBase64List(opts.controlPublicKeys),
    });
    const records = new RecordPublisher(kafka, keyring);
    const stop = async () => {
      await records.disconnect().catch(() => undefined);
      await reader.stop().catch(() => undefined);
    };
    try {
      await reader.start();
      const timeoutMs = opts.controlTimeoutMs ?? 30_000;
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
      const outcome = await Promise.race([reader.waitUntilCaughtUp(), timedOut]).finally(() => clearTimeout(timer));
      if (outcome === 'timeout') throw new Error(`the control topic (${ControlRecordMessage.topic.name}) was not read to its end within ${timeoutMs} ms`);
      checkTenant(directory, opts.tenant, opts.kekId ?? 'kek-1');
      await records.connect();
    } catch (err) {
      await stop();
      throw err;
    }
    const sink: TelemetrySink = { publish: (rs) => records.publish(TelemetryBatchMessage, rs, { split: splitTelemetryBatch }) };
    return new TelemetryPublisher(opts, directory, sink, stop);
  }

  /**
   * Validates `points` and `events` whole (every problem listed with its path: InvalidTelemetryError,
   * nothing recorded), pseudonymises user ids, waits for room when `maxBufferedPoints` are
   * outstanding, and buffers them. Resolves once they are durably on Kafka (or, with
   * `ack: 'buffered'`, once buffered). A call is one batch for the validator: at most 10,000 points
   * and 10,000 events. An empty call resolves at once.
   */
  async record(points: readonly PointInput[], events: readonly PlatformEvent[] = [], opts: RecordOptions = {}): Promise<void> {
    if (this.closing) throw new PublisherClosedError();
    const call = this.prepare(points, events);
    if (!call) return;
    await this.admit(call, opts.signal);
    if (opts.ack === 'buffered') return;
    const err = await call.ticket.done;
    if (err) throw err;
  }

  /** Seals the open batch now and resolves when everything recorded before this call is acknowledged (rejects if some was not). */
  async flush(): Promise<void> {
    const pending = [...this.unsettled];
    this.flushing++;
    try {
      this.seal();
      const errors = new Set<TelemetryPublishError>();
      for (const err of await Promise.all(pending.map((t) => t.done))) if (err) errors.add(err);
      if (errors.size === 1) throw [...errors][0];
      if (errors.size > 1) throw new AggregateError([...errors], `${errors.size} telemetry batches recorded before flush() were not acknowledged by Kafka`);
    } finally {
      this.flushing--;
    }
  }

  /** Refuses new calls, flushes what was recorded (calls waiting for room included), then disconnects. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      try {
        // Calls already waiting for room still get in; flush until nothing is outstanding.
        while (this.unsettled.size > 0 || this.waiters.length > 0) await this.flush().catch(() => undefined);
      } finally {
        clearTimeout(this.lingerTimer);
        await this.onClose();
      }
    })();
    return this.closing;
  }

  stats(): TelemetryPublisherStats {
    return { bufferedPoints: this.bufferedItems, inFlightPoints: this.inFlightItems, waitingCalls: this.waiters.length, ...this.counts };
  }

  /** The tenant's effective limits now (its overrides from control over the deployment's defaults). */
  limits(): TenantLimits {
    return resolveTenantLimits(this.activeTenant().limits, this.settings.deploymentLimits);
  }

  private activeTenant(): TenantRecord {
    return checkTenant(this.view, this.tenant);
  }

  /** Validation and pseudonymisation: throws before anything is buffered. */
  private prepare(points: readonly PointInput[], events: readonly PlatformEvent[]): Call | undefined {
    if (points.length === 0 && events.length === 0) return undefined;
    const limits = this.limits();
    const checked = validateIngestBatch({ points, events }, { limits, now: this.clock(), tenant: this.tenant });
    if (!checked.ok) throw new InvalidTelemetryError(this.tenant, checked.issues, checked.omittedIssues);
    let pseudonymised: PlatformEvent[];
    try {
      pseudonymised = checked.batch.events.map((e) => pseudonymiseEvent(this.view.keyring, this.tenant, e));
    } catch (err) {
      if (err instanceof CryptoError && err.code === 'unknown_key') {
        throw new TenantUnavailableError(this.tenant, 'no_pseudonym_key', `tenant ${this.tenant} has no pseudonym key on the control topic: events with a userId cannot be pseudonymised (nothing was recorded)`);
      }
      throw err;
    }
    return { points: checked.batch.points, events: pseudonymised, ticket: newTicket() };
  }

  private items(call: Pick<Call, 'points' | 'events'>): number {
    return call.points.length + call.events.length;
  }

  private fits(n: number): boolean {
    const outstanding = this.bufferedItems + this.inFlightItems;
    return outstanding === 0 || outstanding + n <= this.maxBufferedPoints;
  }

  /** Places the call in the buffer now, or queues it (FIFO) until there is room. */
  private admit(call: Call, signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted) return Promise.reject(new RecordAbortedError());
    this.unsettled.add(call.ticket);
    void call.ticket.done.then(() => this.unsettled.delete(call.ticket));
    if (this.waiters.length === 0 && this.fits(this.items(call))) {
      this.place(call);
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { call, resolve, reject };
      this.waiters.push(waiter);
      signal?.addEventListener(
        'abort',
        () => {
          const i = this.waiters.indexOf(waiter);
          if (i === -1) return; // already placed
          this.waiters.splice(i, 1);
          call.ticket.settle(undefined);
          reject(new RecordAbortedError());
          this.wake();
        },
        { once: true },
      );
    });
  }

  private wake(): void {
    while (this.waiters.length > 0 && this.fits(this.items(this.waiters[0].call))) {
      const w = this.waiters.shift()!;
      this.place(w.call);
      w.resolve();
    }
  }

  /** Appends the call to the open batch, sealing every time it reaches maxBatchPoints. */
  private place(call: Call): void {
    let p = 0;
    let e = 0;
    while (p < call.points.length || e < call.events.length) {
      const room = this.maxBatchPoints - this.bufferedItems;
      const takeP = Math.min(room, call.points.length - p);
      const takeE = Math.min(room - takeP, call.events.length - e);
      if (takeP > 0) this.open.points.push(...call.points.slice(p, p + takeP));
      if (takeE > 0) this.open.events.push(...call.events.slice(e, e + takeE));
      p += takeP;
      e += takeE;
      this.bufferedItems += takeP + takeE;
      if (!this.open.tickets.has(call.ticket)) {
        this.open.tickets.add(call.ticket);
        call.ticket.parts++;
      }
      if (this.bufferedItems >= this.maxBatchPoints) this.seal();
    }
    if (this.bufferedItems > 0) {
      if (this.flushing > 0 || this.lingerMs === 0) this.seal();
      else this.lingerTimer ??= setTimeout(() => this.seal(), this.lingerMs);
    }
  }

  /** Seals the open batch and hands it to the sink. */
  private seal(): void {
    clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    if (this.bufferedItems === 0) return;
    const { points, events, tickets } = this.open;
    this.open = { points: [], events: [], tickets: new Set() };
    const items = this.bufferedItems;
    this.bufferedItems = 0;
    this.inFlightItems += items;
    let batchId = '';
    const sending = (async () => {
      const shards = this.view.tenant(this.tenant)?.shards ?? 1;
      const built = telemetryRecords({ points, events }, { tenant: this.tenant, shards, source: this.source });
      batchId = built.batchId;
      await this.sink.publish(built.records);
    })();
    void sending.then(
      () => {
        this.counts.batchesSent++;
        this.counts.pointsAcked += points.length;
        this.counts.eventsAcked += events.length;
        this.settle(items, tickets, undefined);
      },
      (cause: unknown) => {
        const err = new TelemetryPublishError(this.tenant, batchId || '(not built)', points.length, events.length, cause);
        this.counts.batchesFailed++;
        this.counts.pointsFailed += points.length;
        this.counts.eventsFailed += events.length;
        this.settings.logger?.error({ tenant: this.tenant, batchId, points: points.length, events: events.length, err: err.message }, 'telemetry batch not acknowledged by Kafka');
        try {
          this.settings.onError?.(err);
        } catch {
          // a throwing onError must not lose the other calls' outcomes
        }
        this.settle(items, tickets, err);
      },
    );
  }

  private settle(items: number, tickets: Set<Ticket>, err: TelemetryPublishError | undefined): void {
    this.inFlightItems -= items;
    for (const t of tickets) {
      t.error ??= err;
      if (--t.parts === 0) t.settle(t.error);
    }
    this.wake();
  }
}

/**
 * A control record (or tombstone) the publisher of `tenant` applies: its tenant record, data and
 * pseudonym keys, erasure (control keys are `<kind>/<tenant>[/…]`). API keys and other tenants'
 * records are skipped, so the process unwraps no other tenant's keys.
 */
export function concernsTenant(tenant: string, key: string | null, value: unknown): boolean {
  if (value !== null && typeof value === 'object' && 'tenant' in value) return (value as { tenant: unknown }).tenant === tenant && (value as { kind?: unknown }).kind !== 'api_key';
  return key !== null && key.split('/')[1] === tenant;
}

/** The tenant's record if it may be published for; a clear TenantUnavailableError otherwise. */
function checkTenant(view: TenantView, tenant: string, kekId?: string): TenantRecord {
  const topic = ControlRecordMessage.topic.name;
  if (view.isErased(tenant)) throw new TenantUnavailableError(tenant, 'tenant_erased', `tenant ${tenant} was erased (tenant_erased on ${topic}): its keys are destroyed and nothing can be published for it`);
  const record = view.tenant(tenant);
  if (!record) throw new TenantUnavailableError(tenant, 'unknown_tenant', `unknown tenant ${tenant}: no tenant record on ${topic} (create it with control: POST /v1/tenants)`);
  if (record.status !== 'active') throw new TenantUnavailableError(tenant, 'tenant_suspended', `tenant ${tenant} is ${record.status}: the edge refuses its data too`);
  if (view.keyring.currentVersion(tenant) === undefined) {
    const kek = kekId ? ` wrapped under KEK "${kekId}"` : '';
    throw new TenantUnavailableError(tenant, 'no_data_key', `tenant ${tenant} has no data key${kek} on ${topic} (is the KEK the deployment's HEADROOM_KEK?)`);
  }
  return record;
}
