import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Optional, type BeforeApplicationShutdown } from '@nestjs/common';
import { Counter, type Registry } from 'prom-client';
import { AuditEventMessage, TenantIdSchema, type AuditEvent } from '@headroom/contracts';
import type { RecordPublisher } from '@headroom/kafka';
import { LOGGER, METRICS, type Logger } from '@headroom/runtime';
import { PUBLISHER, TENANCY_SERVICE } from './tokens';

/** What a service says happened; the trail adds when, which service, and a unique id. */
export type AuditRecord = Omit<AuditEvent, 'at' | 'service' | 'id'>;

/** How many refused requests are audited one by one before the rest are only counted. */
export interface DenialBudget {
  /** Per source address (an IPv6 address counts by its /64): events per second, and the burst. */
  perSourceRate: number;
  perSourceBurst: number;
  /** All sources together. */
  globalRate: number;
  globalBurst: number;
  /** Suppressed refusals are summed into one `auth.denied_suppressed` event per interval. */
  summaryIntervalMs: number;
  /** Sources tracked at once; beyond it, new sources share the global budget only. */
  maxSources: number;
}

export const DEFAULT_DENIAL_BUDGET: DenialBudget = {
  perSourceRate: 10,
  perSourceBurst: 50,
  globalRate: 100,
  globalBurst: 500,
  summaryIntervalMs: 10_000,
  maxSources: 10_000,
};

export interface AuditTrailOptions {
  budget?: Partial<DenialBudget>;
  /** Events handed to the publisher and not yet acknowledged, beyond which new ones are dropped (counted). */
  maxPending?: number;
  /** Milliseconds; a test hands in its own clock. */
  now?: () => number;
}

export const AUDIT_TRAIL_OPTIONS = Symbol('AUDIT_TRAIL_OPTIONS');

/** A token bucket: `rate` tokens a second, holding at most `burst`. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.last = now;
  }

  take(now: number): boolean {
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Full again: nothing would change if it were forgotten and created anew. */
  isFull(now: number): boolean {
    this.refill(now);
    return this.tokens >= this.burst;
  }

  private refill(now: number): void {
    if (now > this.last) this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = Math.max(this.last, now);
  }
}

/**
 * The source a refusal is charged to. An IPv6 client usually holds a whole /64, so one address per
 * request would give it an unbounded budget: it is charged by its /64.
 */
export function denialSource(ip: string | undefined): string {
  if (!ip) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1];
  if (!ip.includes(':')) return ip;
  const [head, tail] = ip.split('::');
  const groups = head ? head.split(':') : [];
  if (tail !== undefined) {
    const rest = tail ? tail.split(':') : [];
    while (groups.length + rest.length < 8) groups.push('0');
    groups.push(...rest);
  }
  return `${groups
    .slice(0, 4)
    .map((g) => g.toLowerCase().replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

function counter(registry: Registry, name: string, help: string, labelNames: string[] = []): Counter<string> {
  // One registry per process, but a test may build several trails on it.
  return (registry.getSingleMetric(name) as Counter<string> | undefined) ?? new Counter({ name, help, labelNames, registers: [registry] });
}

/**
 * Every service's way into headroom.audit.v1. Recording never throws and never blocks the caller:
 * an audit failure is logged and counted, never turned into a failed request. Refused requests go
 * through `denied`, which is bounded (token buckets per source and overall), so an unauthenticated
 * flood costs the log one summary event per interval instead of one event per request.
 */
@Injectable()
export class AuditTrail implements BeforeApplicationShutdown {
  private readonly budget: DenialBudget;
  private readonly now: () => number;
  private readonly maxPending: number;
  private readonly global: TokenBucket;
  private readonly sources = new Map<string, TokenBucket>();
  private lastSweep = 0;
  private pending = 0;
  private suppressed = { count: 0, since: 0, bySource: new Map<string, number>(), otherSources: 0 };
  private summaryTimer: NodeJS.Timeout | undefined;
  private droppedSinceLog = 0;
  private readonly suppressedTotal: Counter<string>;
  private readonly failedTotal: Counter<string>;

  constructor(
    @Inject(PUBLISHER) private readonly publisher: Pick<RecordPublisher, 'publish'>,
    @Inject(TENANCY_SERVICE) private readonly service: string,
    @Inject(LOGGER) private readonly logger: Pick<Logger, 'warn'>,
    @Inject(METRICS) registry: Registry,
    @Optional() @Inject(AUDIT_TRAIL_OPTIONS) options: AuditTrailOptions = {},
  ) {
    this.budget = { ...DEFAULT_DENIAL_BUDGET, ...options.budget };
    this.now = options.now ?? Date.now;
    this.maxPending = options.maxPending ?? 10_000;
    this.global = new TokenBucket(this.budget.globalRate, this.budget.globalBurst, this.now());
    this.suppressedTotal = counter(registry, 'headroom_audit_denied_suppressed_total', 'Refused requests over the audit budget: counted in an auth.denied_suppressed summary instead of one event each');
    this.failedTotal = counter(registry, 'headroom_audit_events_failed_total', 'Audit events that did not reach Kafka, by reason (publish: refused or failed; overflow: too many pending)', ['reason']);
  }

  /** Publishes one audit event in the background. */
  record(event: AuditRecord): void {
    try {
      if (this.pending >= this.maxPending) {
        this.failedTotal.inc({ reason: 'overflow' });
        // One line per interval at most: a stalled broker must not turn into a log flood.
        if (this.droppedSinceLog++ === 0) setTimeout(() => this.logDropped(), this.budget.summaryIntervalMs).unref();
        return;
      }
      const value: AuditEvent = { ...event, at: new Date(this.now()).toISOString(), service: this.service as AuditEvent['service'], id: randomUUID() };
      this.pending++;
      this.publisher
        .publish(AuditEventMessage, [{ key: event.tenant ?? 'platform', value }])
        .catch((err: unknown) => {
          this.failedTotal.inc({ reason: 'publish' });
          // The action and outcome only: the error is the publisher's (validation path or broker), never the event's values.
          this.logger.warn({ err: err instanceof Error ? err.message : String(err), action: event.action, outcome: event.outcome }, 'could not publish an audit event');
        })
        .finally(() => this.pending--);
    } catch (err) {
      this.failedTotal.inc({ reason: 'publish' });
      this.logger.warn({ err: err instanceof Error ? err.message : String(err), action: event.action }, 'could not publish an audit event');
    }
  }

  /**
   * A refused request (no or bad credential, too weak a role, another tenant). Audited one by one
   * within the budget; beyond it only counted, and summed into one `auth.denied_suppressed` event
   * per interval. `reason` is a short code (`no_credential`, `bad_signature`, ...), never what was presented.
   */
  denied(req: { method: string; url: string; ip?: string }, reason: string, extra: { tenant?: string; actor?: string } = {}): void {
    try {
      const now = this.now();
      const source = denialSource(req.ip);
      if (this.admit(source, now)) {
        const tenant = extra.tenant && TenantIdSchema.safeParse(extra.tenant).success ? extra.tenant : undefined;
        this.record({
          actor: (extra.actor || 'anonymous').slice(0, 128),
          ...(tenant ? { tenant } : {}),
          action: 'auth.denied',
          target: `${req.method} ${req.url.split('?')[0]}`.slice(0, 256),
          outcome: 'denied',
          details: { reason: reason.slice(0, 128), source },
        });
        return;
      }
      this.suppressedTotal.inc();
      const s = this.suppressed;
      if (s.count++ === 0) {
        s.since = now;
        this.summaryTimer = setTimeout(() => this.flush(), this.budget.summaryIntervalMs);
        this.summaryTimer.unref();
      }
      const seen = s.bySource.get(source);
      if (seen !== undefined || s.bySource.size < this.budget.maxSources) s.bySource.set(source, (seen ?? 0) + 1);
      else s.otherSources++;
    } catch (err) {
      this.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'could not account for a refused request');
    }
  }

  /** Emits the summary of what was suppressed since the last one, if anything was (also at shutdown). */
  flush(): void {
    clearTimeout(this.summaryTimer);
    this.summaryTimer = undefined;
    const s = this.suppressed;
    if (s.count === 0) return;
    this.suppressed = { count: 0, since: 0, bySource: new Map(), otherSources: 0 };
    let top: [string, number] = ['unknown', 0];
    for (const entry of s.bySource) if (entry[1] > top[1]) top = entry;
    this.record({
      actor: 'anonymous',
      action: 'auth.denied_suppressed',
      outcome: 'denied',
      details: {
        suppressed: s.count,
        since: new Date(s.since).toISOString(),
        sources: s.bySource.size,
        untrackedSources: s.otherSources,
        topSource: top[0],
        topSourceSuppressed: top[1],
      },
    });
  }

  beforeApplicationShutdown(): void {
    this.flush();
  }

  private admit(source: string, now: number): boolean {
    let bucket = this.sources.get(source);
    if (!bucket) {
      if (this.sources.size >= this.budget.maxSources) this.sweep(now);
      if (this.sources.size < this.budget.maxSources) {
        bucket = new TokenBucket(this.budget.perSourceRate, this.budget.perSourceBurst, now);
        this.sources.set(source, bucket);
      }
    }
    // A source that cannot be tracked (table full of active sources) is held by the global budget alone.
    if (bucket && !bucket.take(now)) return false;
    return this.global.take(now);
  }

  /** Forgets sources whose bucket has refilled (at most once a second: the table is bounded either way). */
  private sweep(now: number): void {
    if (now - this.lastSweep < 1000) return;
    this.lastSweep = now;
    for (const [source, bucket] of this.sources) if (bucket.isFull(now)) this.sources.delete(source);
  }

  private logDropped(): void {
    this.logger.warn({ dropped: this.droppedSinceLog }, 'audit events dropped: too many waiting for Kafka');
    this.droppedSinceLog = 0;
  }
}
