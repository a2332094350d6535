import { Inject, Injectable } from '@nestjs/common';
import { Gauge, type Registry } from 'prom-client';
import type { AggregateBatch, AlertEvent, AlertEventMessage } from '@headroom/contracts';
import type { OutgoingRecord } from '@headroom/kafka';
import { LOGGER, METRICS, type Logger } from '@headroom/runtime';
import { TenantDirectory } from '@headroom/tenancy';
import { AlertStateTable, type Transition } from './rules/alert-state';
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
 * and published, and only then remembered, so a failure retries the whole transition.
 */
@Injectable()
export class AlertingService {
  private readonly states = new AlertStateTable();

  constructor(
    @Inject(TenantDirectory) private readonly directory: TenantDirectory,
    @Inject(NOTIFIER) private readonly notifier: Notifier,
    @Inject(ALERT_SINK) private readonly sink: AlertSink,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(METRICS) metrics: Registry,
  ) {
    const states = this.states;
    new Gauge({
      name: 'headroom_alerts_firing',
      help: 'Alerts currently firing in this instance.',
      registers: [metrics],
      collect() {
        this.set(states.firingCount());
      },
    });
    directory.onRecord((r) => {
      if (r.kind === 'tenant_erased') this.states.forgetTenant(r.tenant);
    });
  }

  async handleBatch(tenant: string, batch: AggregateBatch, traceparent?: string): Promise<void> {
    const rules = this.directory.alertConfig(tenant)?.rules ?? [];
    if (rules.length === 0) return;
    // Oldest first, so a batch holding several windows of one series steps through them in order.
    const windows = [...batch.windows].sort((a, b) => a.windowStart - b.windowStart);
    for (const window of windows) {
      for (const evaluation of evaluateWindow(window, rules)) {
        const step = this.states.decide(tenant, evaluation.fingerprint, { windowStart: evaluation.windowStart, breached: evaluation.breached });
        if (step.kind === 'stale') continue;
        if (step.transition) await this.emit(tenant, evaluation, step.transition, traceparent);
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
