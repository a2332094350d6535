import type { SubjectErasures } from '@headroom/tenancy';
import type { PoolClient } from 'pg';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Labels } from '@headroom/contracts';
import type { Logger } from '@headroom/runtime';
import { RetryableSendError, type AlertInstance, type ChannelSender, type GroupNotification } from '../channels/channel';
import { planAck, planFlush, type FlushPlan, type GroupState, type PlannedNotification } from './group-plan';
import { DispatchRepository, type NewOutboxEntry, type OutboxEntry } from './dispatch.repository';
import { backoffDelay, CircuitBreakers, TokenBuckets, type BackoffPolicy, type BreakerPolicy } from './resilience';
import type { Silence, TenantView } from './tenant-view';

export interface DispatcherOptions {
  /** How often due groups and due outbox entries are looked for (ms). */
  pollMs: number;
  /** Sends in flight at once, across all tenants (each queue sends one at a time). */
  concurrency: number;
  /** How long a claimed entry is held before another replica may take it over (> send timeout). */
  leaseMs: number;
  /** Attempts before an entry goes to the DLQ (and to the receiver's failover, if any). */
  maxAttempts: number;
  /** After this many failed attempts of one entry, a copy also goes to the receiver's failover. */
  failoverAfterAttempts: number;
  backoff: BackoffPolicy;
  breaker: BreakerPolicy;
  /** Default notification rates, per tenant and per receiver (per minute, with a burst). */
  tenantPerMinute: number;
  receiverPerMinute: number;
  /** Where acknowledgements are made, e.g. https://alerting.example/v1/alert-groups (the group key is appended). */
  ackBaseUrl?: string;
  /** Sent and dead outbox entries older than this are deleted (hourly), so the table does not grow for ever. */
  outboxRetentionMs: number;
  /**
   * Data subjects erased while this process runs: a transition about an alert that started before the
   * erasure and names one (still in flight on the alerts topic when the rows were deleted) is dropped,
   * not stored and notified again.
   */
  erasedSubjects?: Pick<SubjectErasures, 'coversLabels'>;
}

export const DEFAULT_DISPATCHER_OPTIONS: DispatcherOptions = {
  pollMs: 100,
  concurrency: 32,
  leaseMs: 60_000,
  maxAttempts: 8,
  failoverAfterAttempts: 3,
  backoff: { baseMs: 1_000, maxMs: 300_000 },
  breaker: { failureThreshold: 5, openMs: 30_000 },
  tenantPerMinute: 600,
  receiverPerMinute: 120,
  // As long as headroom.dlq.v1 keeps a dead entry's record pointing at it.
  outboxRetentionMs: 7 * 24 * 3_600_000,
};

/** How soon a group or entry of a tenant whose config is not known (yet) is looked at again. */
const UNKNOWN_TENANT_RETRY_MS = 5_000;

/** One alert transition handed to the dispatcher (from headroom.alerts.v1). */
export interface DispatchEvent {
  tenant: string;
  alert: AlertInstance;
  state: 'pending' | 'firing' | 'resolved';
  /** When the transition was observed upstream (for the end-to-end latency histogram). */
  originAt: number;
}

/** Where undeliverable entries are reported (the DLQ topic in production). */
export interface DeadLetters {
  report(entry: OutboxEntry, reason: string, code: 'notification_rejected' | 'notification_exhausted'): Promise<void>;
}

/**
 * Alertmanager's notification side, per tenant, durable and isolated:
 * - `ingest` (from the alerts topic): routes each transition into its aggregation groups — rows in
 *   PostgreSQL, nothing waits for a provider;
 * - the flush loop: due groups are muted (silences, inhibition), deduped and turned into outbox
 *   entries, one per receiver integration;
 * - the send loop: each tenant + receiver + integration is its own FIFO queue; a failing queue backs
 *   off (Retry-After honoured), opens its circuit, fails over, and ends in the DLQ, while every other
 *   queue keeps sending.
 */
export class Dispatcher {
  private readonly breakers: CircuitBreakers;
  private readonly tenantBuckets: TokenBuckets;
  private readonly receiverBuckets: TokenBuckets;
  private readonly inflight = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private ticking: Promise<void> | undefined;
  private readonly sent: Counter<'channel' | 'outcome'>;
  private readonly latency: Histogram<'channel'>;

  constructor(
    private readonly repo: DispatchRepository,
    private readonly views: (tenant: string) => TenantView | undefined,
    private readonly senders: ReadonlyMap<string, ChannelSender<unknown>>,
    private readonly deadLetters: DeadLetters,
    private readonly logger: Logger,
    metrics: Registry,
    private readonly options: DispatcherOptions = DEFAULT_DISPATCHER_OPTIONS,
    private readonly clock: () => number = Date.now,
  ) {
    this.breakers = new CircuitBreakers(options.breaker);
    this.tenantBuckets = new TokenBuckets({ perMinute: options.tenantPerMinute, burst: Math.max(10, Math.ceil(options.tenantPerMinute / 6)) });
    this.receiverBuckets = new TokenBuckets({ perMinute: options.receiverPerMinute, burst: Math.max(5, Math.ceil(options.receiverPerMinute / 6)) });
    this.sent = new Counter({
      name: 'headroom_alerting_notifications_total',
      help: 'Notification sends by channel kind and outcome (sent, failed, rejected, dead, rate_limited, failover).',
      labelNames: ['channel', 'outcome'],
      registers: [metrics],
    });
    this.latency = new Histogram({
      name: 'headroom_alerting_notification_latency_seconds',
      help: 'From the alert transition upstream to the provider accepting the notification, by channel kind.',
      labelNames: ['channel'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
      registers: [metrics],
    });
    const repoRef = repo;
    new Gauge({
      name: 'headroom_alerting_queued_notifications',
      help: 'Notifications waiting in the outbox (pending or being sent), by channel kind.',
      labelNames: ['channel'],
      registers: [metrics],
      async collect() {
        this.reset();
        for (const { channel, n } of await repoRef.queuedByChannel().catch(() => [])) this.set({ channel }, n);
      },
    });
    const breakers = this.breakers;
    const clockRef = clock;
    new Gauge({
      name: 'headroom_alerting_open_circuits',
      help: 'Receivers whose circuit is open (recent consecutive failures) in this instance.',
      registers: [metrics],
      collect() {
        this.set(breakers.openKeys(clockRef()).length);
      },
    });
  }

  start(): void {
    this.running = true;
    const loop = () => {
      if (!this.running) return;
      this.ticking = this.tick()
        .catch((err) => this.logger.warn({ err: String(err) }, 'dispatch tick failed'))
        .finally(() => {
          if (this.running) this.timer = setTimeout(loop, this.options.pollMs);
        });
    };
    loop();
  }

  /** Stops taking work and waits for sends in flight (their outcome is recorded). */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    await this.ticking;
    await Promise.allSettled([...this.inflight]);
  }

  /** One pass: flush due groups, then start sends for due entries. Public for specs and the bench. */
  async tick(): Promise<void> {
    while ((await this.flushDue()) > 0 && this.running !== false) {
      /* drain every due group */
    }
    await this.sendDue();
    const now = this.clock();
    if (now >= this.nextPruneAt) {
      this.nextPruneAt = now + 3_600_000;
      const pruned = await this.repo.pruneOutbox(now - this.options.outboxRetentionMs);
      if (pruned > 0) this.logger.info({ pruned }, 'old outbox entries deleted');
    }
  }

  private nextPruneAt = 0;

  // ---- ingest ---------------------------------------------------------------------------------

  /** Applies one alert transition; idempotent (a replayed or older transition changes nothing). */
  async ingest(event: DispatchEvent): Promise<void> {
    if (this.options.erasedSubjects?.coversLabels(event.tenant, event.alert.labels, event.alert.startsAt)) return;
    const view = this.views(event.tenant);
    const now = this.clock();
    await this.repo.transaction(async (db) => {
      const fresh = await this.repo.recordAlert(db, event.tenant, { ...event.alert, state: event.state }, now);
      if (!fresh || event.state === 'pending' || !view) return;
      if (event.state === 'resolved') await this.endSilencesOnResolve(db, view, event.alert, now);
      for (const routed of view.route(event.alert.labels)) {
        const existing = await this.repo.lockGroup(db, event.tenant, routed.groupKey);
        if (!existing && event.state === 'resolved') continue;
        const group: GroupState = existing ?? {
          tenant: event.tenant,
          groupKey: routed.groupKey,
          routeId: routed.routeId,
          receiver: routed.receiver,
          groupLabels: routed.groupLabels,
          timers: routed.timers,
          escalation: routed.escalation,
          locale: routed.locale,
          alerts: {},
          nextFlushAt: now + routed.timers.groupWaitMs,
          notifiedFiring: [],
          lastHash: null,
          lastNotifiedAt: null,
          firstNotifiedAt: null,
          escalationStepsDone: 0,
          escalatedReceivers: [],
          ack: null,
          originAt: event.originAt,
        };
        group.alerts[event.alert.fingerprint] = event.alert;
        group.originAt ??= event.originAt;
        if (group.nextFlushAt === null) group.nextFlushAt = Math.max(now, (group.lastNotifiedAt ?? now) + group.timers.groupIntervalMs);
        // A new group waits group_wait; a changed one keeps its next tick (group_interval after the last).
        await this.repo.saveGroup(db, group);
      }
    });
  }

  /** #1057: a silence marked endOnResolve ends once nothing it mutes is firing any more. */
  private async endSilencesOnResolve(db: PoolClient, view: TenantView, resolved: AlertInstance, now: number): Promise<void> {
    const silences = (await this.repo.silences(db, view.tenant, now)).filter((s) => s.endOnResolve && s.startsAt <= now);
    const relevant = silences.filter((s) => view.silencedBy(resolved.labels, [s], now).length > 0);
    if (relevant.length === 0) return;
    const firing = await this.repo.firingLabels(db, view.tenant);
    for (const s of relevant) {
      if (firing.some((labels) => view.silencedBy(labels, [s], now).length > 0)) continue;
      await this.repo.expireSilence(view.tenant, s.id, now, db);
      this.logger.info({ tenant: view.tenant, silence: s.id }, 'silence ended with the alert it muted');
    }
  }

  // ---- flush ----------------------------------------------------------------------------------

  /** Flushes up to 100 due groups in one transaction; returns how many were due. */
  async flushDue(): Promise<number> {
    const now = this.clock();
    return this.repo.transaction(async (db) => {
      const groups = await this.repo.lockDueGroups(db, now, 100);
      const contexts = new Map<string, { silences: Silence[]; firing: Labels[] }>();
      for (const group of groups) {
        const view = this.views(group.tenant);
        if (!view) {
          // No config known for the tenant right now: at boot, before the control topic is read, that
          // is every tenant. Look again later; an erased tenant's rows are deleted by the erasure.
          await this.repo.saveGroup(db, { ...group, nextFlushAt: now + UNKNOWN_TENANT_RETRY_MS });
          continue;
        }
        let ctx = contexts.get(group.tenant);
        if (!ctx) {
          ctx = { silences: await this.repo.silences(db, group.tenant, now), firing: await this.repo.firingLabels(db, group.tenant) };
          contexts.set(group.tenant, ctx);
        }
        const { silences, firing } = ctx;
        const plan = planFlush(group, now, (a) => {
          if (view.silencedBy(a.labels, silences, now).length > 0) return 'silenced';
          if (view.isInhibited(a.labels, firing)) return 'inhibited';
          return undefined;
        });
        await this.applyPlan(db, view, group, plan, now);
      }
      return groups.length;
    });
  }

  private async applyPlan(db: PoolClient, view: TenantView, group: GroupState, plan: FlushPlan, now: number): Promise<void> {
    const entries: NewOutboxEntry[] = [];
    for (const n of plan.notifications) entries.push(...this.entriesFor(view, group, n, now));
    await this.repo.enqueue(db, entries, now);
    if (plan.next) await this.repo.saveGroup(db, plan.next);
    else await this.repo.deleteGroup(db, group.tenant, group.groupKey);
  }

  private entriesFor(view: TenantView, group: GroupState, n: PlannedNotification, now: number, failoverOf?: string): NewOutboxEntry[] {
    const integrations = view.integrations(n.receiver);
    if (!integrations) {
      this.logger.warn({ tenant: group.tenant, receiver: n.receiver }, 'route names a receiver the tenant does not define');
      return [];
    }
    const payload = this.payloadFor(view, group, n, now);
    return integrations.map((i) => ({
      tenant: group.tenant,
      receiver: n.receiver,
      channel: i.channel,
      integration: i.index,
      groupKey: group.groupKey,
      payload,
      originAt: group.originAt ?? now,
      failoverOf,
    }));
  }

  private payloadFor(view: TenantView, group: GroupState, n: PlannedNotification, now: number): OutboxEntry['payload'] {
    const labelsOf = n.alerts.map((a) => a.labels);
    return {
      tenant: group.tenant,
      receiver: n.receiver,
      groupKey: group.groupKey,
      status: n.status,
      reason: n.reason,
      escalationStep: n.escalationStep,
      acknowledged: group.ack ?? undefined,
      groupLabels: group.groupLabels,
      commonLabels: common(labelsOf),
      commonAnnotations: common(n.alerts.map((a) => a.annotations)),
      alerts: n.alerts,
      locale: group.locale ?? view.locale,
      templates: view.templates,
      ackUrl: this.options.ackBaseUrl ? `${this.options.ackBaseUrl}/${encodeURIComponent(group.groupKey)}/ack` : undefined,
      createdAt: now,
    };
  }

  // ---- acknowledge ----------------------------------------------------------------------------

  /** Acknowledges a group of the tenant; false when the tenant has no such group (never another tenant's). */
  async acknowledge(tenant: string, groupKey: string, by: string): Promise<'acknowledged' | 'already' | 'not_found'> {
    const view = this.views(tenant);
    if (!view) return 'not_found';
    const now = this.clock();
    return this.repo.transaction(async (db) => {
      const group = await this.repo.lockGroup(db, tenant, groupKey);
      if (!group) return 'not_found';
      if (group.ack) return 'already';
      const plan = planAck(group, by, now);
      await this.applyPlan(db, view, group, plan, now);
      return 'acknowledged';
    });
  }

  // ---- send -----------------------------------------------------------------------------------

  private async sendDue(): Promise<void> {
    const free = this.options.concurrency - this.inflight.size;
    if (free <= 0) return;
    const now = this.clock();
    const claimed = await this.repo.claim(now, free, this.options.leaseMs, this.breakers.openKeys(now));
    for (const entry of claimed) {
      const p = this.deliver(entry)
        .catch((err) => this.logger.error({ tenant: entry.tenant, receiver: entry.receiver, err: String(err) }, 'could not record a delivery outcome'))
        .finally(() => this.inflight.delete(p));
      this.inflight.add(p);
    }
  }

  /** Resolves once every send started so far has finished (specs, bench). */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.inflight]);
  }

  private async deliver(entry: OutboxEntry): Promise<void> {
    const now = this.clock();
    const queue = `${entry.tenant}/${entry.receiver}`;
    const channelLabel = { channel: entry.channel };
    const tenantWait = this.tenantBuckets.take(entry.tenant, now);
    const receiverWait = tenantWait > 0 ? 0 : this.receiverBuckets.take(queue, now);
    if (tenantWait > 0 || receiverWait > 0) {
      if (tenantWait === 0) this.tenantBuckets.refund(entry.tenant);
      this.sent.inc({ ...channelLabel, outcome: 'rate_limited' });
      await this.repo.deferUnsent(entry.id, now + Math.max(tenantWait, receiverWait));
      return;
    }
    const view = this.views(entry.tenant);
    if (!view) {
      // Not known yet (the control topic is still being read at boot) or no longer configured: wait,
      // without spending an attempt; an erased tenant's entries are deleted by the erasure.
      this.tenantBuckets.refund(entry.tenant);
      this.receiverBuckets.refund(queue);
      await this.repo.deferUnsent(entry.id, now + UNKNOWN_TENANT_RETRY_MS);
      return;
    }
    const integration = view.integrations(entry.receiver)?.find((i) => i.channel === entry.channel && i.index === entry.integration);
    const sender = this.senders.get(entry.channel);
    if (!integration || !sender) {
      await this.dead(entry, `receiver ${entry.receiver} has no ${entry.channel} integration #${entry.integration} any more`, 'notification_rejected');
      return;
    }
    const thread = await this.repo.thread(entry.tenant, entry.groupKey, entry.receiver, entry.channel, entry.integration);
    const notification: GroupNotification = { ...entry.payload, id: entry.id, thread };
    let result;
    try {
      result = await sender.send(notification, integration.target);
    } catch (err) {
      await this.failed(entry, view, err, now);
      return;
    }
    const done = this.clock();
    if (result.outcome === 'rejected') {
      this.breakers.success(queue);
      await this.dead(entry, `rejected by ${entry.channel}: ${result.reason}`, 'notification_rejected');
      await this.failover(entry, view, done);
      return;
    }
    this.breakers.success(queue);
    await this.repo.markSent(entry.id, done);
    if (notification.status === 'resolved') await this.repo.endThread(entry.tenant, entry.groupKey, entry.receiver, entry.channel, entry.integration);
    else if (result.thread) await this.repo.saveThread(entry.tenant, entry.groupKey, entry.receiver, entry.channel, entry.integration, result.thread, done);
    this.sent.inc({ ...channelLabel, outcome: 'sent' });
    this.latency.observe(channelLabel, Math.max(0, done - entry.originAt) / 1000);
    this.logger.info({ tenant: entry.tenant, receiver: entry.receiver, channel: entry.channel, reason: entry.payload.reason, group: entry.groupKey, attempts: entry.attempts }, 'notification sent');
  }

  private async failed(entry: OutboxEntry, view: TenantView, err: unknown, now: number): Promise<void> {
    const queue = `${entry.tenant}/${entry.receiver}`;
    const retryAfter = err instanceof RetryableSendError ? err.retryAfterMs : undefined;
    const message = err instanceof Error ? err.message : String(err);
    const opened = this.breakers.failure(queue, now);
    this.sent.inc({ channel: entry.channel, outcome: 'failed' });
    this.logger.warn({ tenant: entry.tenant, receiver: entry.receiver, channel: entry.channel, attempts: entry.attempts, err: message, circuitOpened: opened }, 'notification failed');
    if (entry.attempts === this.options.failoverAfterAttempts) await this.failover(entry, view, now);
    if (entry.attempts >= this.options.maxAttempts) {
      await this.dead(entry, `gave up after ${entry.attempts} attempts: ${message}`, 'notification_exhausted');
      return;
    }
    await this.repo.retryLater(entry.id, now + backoffDelay(entry.attempts, this.options.backoff, retryAfter), message);
  }

  /** "Failover to a second channel when one keeps failing": a copy goes to the receiver's failover, once. */
  private async failover(entry: OutboxEntry, view: TenantView, now: number): Promise<void> {
    const to = view.failover(entry.receiver);
    if (!to || entry.failoverOf !== null) return;
    const integrations = view.integrations(to) ?? [];
    const entries: NewOutboxEntry[] = integrations.map((i) => ({
      tenant: entry.tenant,
      receiver: to,
      channel: i.channel,
      integration: i.index,
      groupKey: entry.groupKey,
      payload: { ...entry.payload, receiver: to },
      originAt: entry.originAt,
      failoverOf: entry.id,
    }));
    await this.repo.enqueueNow(entries, now);
    this.sent.inc({ channel: entry.channel, outcome: 'failover' });
    this.logger.warn({ tenant: entry.tenant, receiver: entry.receiver, failover: to }, 'notification failed over');
  }

  private async dead(entry: OutboxEntry, reason: string, code: 'notification_rejected' | 'notification_exhausted'): Promise<void> {
    await this.repo.markDead(entry.id, reason);
    this.sent.inc({ channel: entry.channel, outcome: 'dead' });
    this.logger.warn({ tenant: entry.tenant, receiver: entry.receiver, channel: entry.channel, code }, 'notification sent to the DLQ');
    await this.deadLetters.report(entry, reason, code);
  }
}

/** Labels (or annotations) shared by every entry, like Alertmanager's commonLabels. */
function common(maps: Record<string, string>[]): Record<string, string> {
  if (maps.length === 0) return {};
  const out: Record<string, string> = { ...maps[0] };
  for (const m of maps.slice(1)) for (const k of Object.keys(out)) if (m[k] !== out[k]) delete out[k];
  return out;
}
