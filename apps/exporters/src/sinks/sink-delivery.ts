import type { Counter, Gauge, Histogram } from 'prom-client';
import type { AggregateWindow } from '@headroom/contracts';
import { PermanentError } from '@headroom/kafka';
import type { Logger } from '@headroom/runtime';
import { SinkRejectedError, SinkUnavailableError, type ExportSink } from './sink';

export interface DeliveryPolicy {
  /** First retry delay; doubles per consecutive failure up to `maxBackoffMs` (equal jitter). */
  baseBackoffMs: number;
  maxBackoffMs: number;
  /** Consecutive failures that open the circuit (logged once, `headroom_exporter_sink_up` 0). */
  breakerFailures: number;
  /**
   * How long one handler call waits in place before handing the record back to the consumer as a
   * retriable failure. kafkajs heartbeats only between handler calls, so a call must end well within
   * the 30 s session timeout; the consumer heartbeats, backs off (≤ 10 s) and calls again, and the
   * sink's failure count and next-attempt time carry over, so the backoff keeps growing across calls.
   * The sink consumers run with unbounded handler attempts: an outage never sends windows to the DLQ.
   */
  holdMs: number;
}

export const DEFAULT_DELIVERY_POLICY: DeliveryPolicy = { baseBackoffMs: 200, maxBackoffMs: 30_000, breakerFailures: 5, holdMs: 10_000 };

export interface DeliveryMetrics {
  points: Counter<'sink' | 'outcome'>;
  writeSeconds: Histogram<'sink'>;
  up: Gauge<'sink'>;
}

/** Still down after this call's wait (or the service is stopping): the consumer retries the record; its offset stays uncommitted. */
export class SinkStillUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SinkStillUnavailableError';
  }
}

/** Delay before the attempt after `failures` consecutive failures: base·2^(failures−1), capped, half fixed + half random, never under Retry-After. */
export function backoffDelay(failures: number, policy: DeliveryPolicy, retryAfterMs = 0, random = Math.random): number {
  const exp = Math.min(policy.maxBackoffMs, policy.baseBackoffMs * 2 ** Math.max(0, failures - 1));
  return Math.max(Math.round(exp / 2 + random() * (exp / 2)), retryAfterMs);
}

/**
 * Delivers windows to one sink: retries in place through outages (backoff, Retry-After, a circuit
 * state per sink), turns a rejection into a PermanentError (DLQ, with the sink's code), and counts
 * everything. One per sink, shared by the partitions its consumer handles concurrently.
 */
export class SinkDelivery {
  private failures = 0;
  private nextAttemptAt = 0;
  private openSince: number | undefined;
  private stopped = false;
  private readonly stop$ = new AbortController();

  constructor(
    private readonly sink: ExportSink,
    private readonly policy: DeliveryPolicy,
    private readonly metrics: DeliveryMetrics,
    private readonly logger: Logger,
    /** Tenants this sink exports; undefined: every tenant. */
    private readonly tenants?: ReadonlySet<string>,
    private readonly now: () => number = Date.now,
  ) {
    metrics.up.set({ sink: sink.type }, 1);
  }

  get type(): string {
    return this.sink.type;
  }

  isOpen(): boolean {
    return this.openSince !== undefined;
  }

  async deliver(tenant: string, windows: readonly AggregateWindow[]): Promise<void> {
    const sink = this.sink.type;
    if (this.tenants && !this.tenants.has(tenant)) {
      this.metrics.points.inc({ sink, outcome: 'skipped' }, windows.length);
      return;
    }
    const calledAt = this.now();
    for (;;) {
      if (this.stopped) throw new SinkStillUnavailableError(`${sink}: stopping; the record will be retried by the next owner`);
      const wait = Math.max(0, this.nextAttemptAt - this.now());
      if (this.now() - calledAt + wait > this.policy.holdMs) {
        throw new SinkStillUnavailableError(`${sink}: still unavailable after ${this.failures} consecutive failures; next attempt in ${wait} ms`);
      }
      if (wait > 0) await this.sleep(wait);
      if (this.stopped) continue;
      const end = this.metrics.writeSeconds.startTimer({ sink });
      try {
        await this.sink.write(tenant, windows);
        end();
        this.metrics.points.inc({ sink, outcome: 'exported' }, windows.length);
        this.succeeded();
        return;
      } catch (err) {
        end();
        if (err instanceof SinkRejectedError) {
          this.metrics.points.inc({ sink, outcome: 'rejected' }, windows.length);
          // The store answered: it is up, whatever it thought of these windows.
          this.succeeded();
          throw new PermanentError(`${sink} rejected ${windows.length} window(s) of tenant ${tenant}: ${err.message}`, `sink_${sink}_${err.code}`);
        }
        this.metrics.points.inc({ sink, outcome: 'failed' }, windows.length);
        this.failed(err);
      }
    }
  }

  /** Ends waits at once: in-flight calls throw SinkStillUnavailableError so no offset moves past unexported windows. */
  stop(): void {
    this.stopped = true;
    this.stop$.abort();
  }

  private succeeded(): void {
    if (this.openSince !== undefined) {
      this.logger.info({ sink: this.sink.type, downForMs: this.now() - this.openSince, failures: this.failures }, 'sink recovered; circuit closed');
      this.metrics.up.set({ sink: this.sink.type }, 1);
    }
    this.failures = 0;
    this.nextAttemptAt = 0;
    this.openSince = undefined;
  }

  private failed(err: unknown): void {
    this.failures += 1;
    const retryAfter = err instanceof SinkUnavailableError ? err.retryAfterMs : undefined;
    this.nextAttemptAt = this.now() + backoffDelay(this.failures, this.policy, retryAfter);
    const reason = err instanceof Error ? err.message : String(err);
    if (!(err instanceof SinkUnavailableError)) this.logger.warn({ sink: this.sink.type, err: reason }, 'sink write failed with an unexpected error; treated as unavailable');
    if (this.openSince === undefined && this.failures >= this.policy.breakerFailures) {
      this.openSince = this.now();
      this.metrics.up.set({ sink: this.sink.type }, 0);
      // Once per outage: the retries that follow are counted, not logged.
      this.logger.warn({ sink: this.sink.type, failures: this.failures, err: reason }, 'sink unavailable; circuit open, retrying with backoff until it returns');
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const signal = this.stop$.signal;
      function done() {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done);
    });
  }
}
