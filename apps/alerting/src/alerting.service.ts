import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { Gauge, type Registry } from 'prom-client';
import type { AggregateBatch, AlertEvent, AlertEventMessage } from '@headroom/contracts';
import type { OutgoingRecord } from '@headroom/kafka';
import { LOGGER, METRICS, type Logger } from '@headroom/runtime';
import { TenantDirectory } from '@headroom/tenancy';
import { AlertStateTable, type Transition } from './rules/alert-state';
import { ALERT_STATE_STORE, type AlertStateStore } from './rules/alert-state-store';
import { evaluateWindow, type RuleEvaluation } from './rules/rule-evaluator';
import type { AlertNotification } from './notifications/notification-channel';

export const ALERT_SINK = Symbol('ALERT_SINK');
export const NOTIFIER = Symbol('NOTIFIER');

/** Where alert events go: headroom.alerts.v1 in production, a list in unit specs. */
export interface AlertSink {
  publish(records: OutgoingRecord<typeof AlertEventMessage>[]): Promise<void>;
}

/** Who tells people: the notifications service in production, a list in unit specs. */
export interface Notifier {
  notify(notification: AlertNotification): Promise<void>;
}

/**
 * Aggregate windows in, alert transitions out. Each window is evaluated against its own tenant's
 * rules only (the tenant comes from the record's authenticated header); a transition is notified
 * and published, and only then remembered (in Redis, then in memory), so a failure retries the whole
 * transition. The in-memory table is the fast path; an alert this process has not seen yet is loaded
 * from the store first, so a restart resumes the episode it was in.
 */
@Injectable()
export class AlertingService implements OnApplicationBootstrap {
  private readonly states = new AlertStateTable();
  /** Erasures wait for the boot to finish (Redis connects in onModuleInit; the control topic may be read before). */
  private erasing: Promise<void>;
  private markStarted!: () => void;

  constructor(
    @Inject(TenantDirectory) private readonly directory: TenantDirectory,
    @Inject(NOTIFIER) private readonly notifier: Notifier,
    @Inject(ALERT_SINK) private readonly sink: AlertSink,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(METRICS) metrics: Registry,
    @Inject(ALERT_STATE_STORE) private readonly store: AlertStateStore,
  ) {
    this.erasing = new Promise<void>((resolve) => (this.markStarted = resolve));
    const states = this.states;
    new Gauge({
      name: 'headroom_alerts_firing',
      help: 'Alerts currently firing in this instance.',
      registers: [metrics],
      collect() {
        this.set(states.firingCount());
      },
    });
    // Registered before the control topic is read, so no erasure slips by. Erasures run one after
    // another; a failure is logged (the next boot re-reads the tenant_erased record and retries).
    directory.onRecord((r) => {
      if (r.kind !== 'tenant_erased') return;
      this.states.forgetTenant(r.tenant);
      this.erasing = this.erasing
        .then(() => this.store.eraseTenant(r.tenant))
        .then((deleted) => {
          if (deleted > 0) this.logger.info({ tenant: r.tenant, deleted }, 'erased tenant alert state');
        })
        .catch((err) => this.logger.error({ tenant: r.tenant, err: String(err) }, 'could not delete erased tenant alert state'));
    });
  }

  onApplicationBootstrap(): void {
    this.markStarted();
  }

  /** Resolves once every erasure seen so far has been applied to the store (tests, shutdown). */
  /**
   * Partitions may have moved: another replica may have changed a tenant's alerts meanwhile, so the
   * in-memory states are dropped and reloaded from Redis on next use.
   */
  forgetCachedStates(): void {
    this.states.clear();
  }

  async erasuresSettled(): Promise<void> {
    await this.erasing;
  }

  async handleBatch(tenant: string, batch: AggregateBatch, traceparent?: string): Promise<void> {
    const rules = this.directory.alertConfig(tenant)?.rules ?? [];
    if (rules.length === 0) return;
    // Oldest first, so a batch holding several windows of one series steps through them in order.
    const windows = [...batch.windows].sort((a, b) => a.windowStart - b.windowStart);
    for (const window of windows) {
      for (const evaluation of evaluateWindow(window, rules)) {
        if (!this.states.has(tenant, evaluation.fingerprint)) {
          const stored = await this.store.load(tenant, evaluation.fingerprint);
          if (stored) this.states.apply(tenant, evaluation.fingerprint, stored);
        }
        const step = this.states.decide(tenant, evaluation.fingerprint, { windowStart: evaluation.windowStart, breached: evaluation.breached });
        if (step.kind === 'stale') continue;
        if (step.transition) {
          await this.emit(tenant, evaluation, step.transition, traceparent);
          // Only transitions are written: a window that changes nothing is not worth a Redis write
          // per series per window, and replays rebuild identical windows (docs/alerting.md).
          if (!this.directory.isErased(tenant)) await this.store.save(tenant, evaluation.fingerprint, step.next);
        }
        this.states.apply(tenant, evaluation.fingerprint, step.next);
      }
    }
  }

  private async emit(tenant: string, ev: RuleEvaluation, transition: Transition, traceparent: string | undefined): Promise<void> {
    const config = this.directory.alertConfig(tenant);
    const notification: AlertNotification = {
      tenant,
      locale: this.directory.tenant(tenant)?.locale ?? 'en',
      state: transition.state,
      fingerprint: ev.fingerprint,
      rule: ev.rule,
      series: ev.series,
      value: ev.value,
      startsAt: transition.startsAt,
      endsAt: transition.state === 'resolved' ? transition.endsAt : undefined,
      route: { slackChannel: config?.slackChannel },
    };
    await this.notifier.notify(notification);
    const event: AlertEvent = {
      fingerprint: ev.fingerprint,
      ruleId: ev.rule.id,
      state: transition.state,
      labels: { ...ev.series.labels, alertname: ev.rule.id, severity: ev.rule.severity },
      annotations: { summary: summaryOf(ev, transition.state) },
      value: ev.value,
      threshold: ev.rule.threshold,
      startsAt: transition.startsAt,
      ...(transition.state === 'resolved' ? { endsAt: transition.endsAt } : {}),
    };
    // Downstream consumers dedupe on tenant + fingerprint + state + startsAt (a replay may republish).
    await this.sink.publish([{ tenant, value: event, traceparent }]);
    this.logger.info({ tenant, traceId: traceparent?.slice(3, 35), fingerprint: ev.fingerprint, rule: ev.rule.id, state: transition.state }, 'alert transition');
  }
}

const round = (v: number) => Math.round(v * 100) / 100;

/** English, like Alertmanager annotations; people get the localised text from the channels. */
function summaryOf(ev: RuleEvaluation, state: Transition['state']): string {
  const expr = `${ev.rule.stat}(${ev.series.name}) = ${round(ev.value)}`;
  return state === 'firing' ? `${expr} ${ev.rule.op} ${ev.rule.threshold}` : `${expr}, no longer ${ev.rule.op} ${ev.rule.threshold}`;
}
