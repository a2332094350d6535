import { Inject, Injectable } from '@nestjs/common';
import type { AlertEvent, AnomalyAlerting, Signal, SignalBatch } from '@headroom/contracts';
import { LOGGER, type Logger } from '@headroom/runtime';
import { TenantDirectory } from '@headroom/tenancy';
import { ALERT_SINK, NOTIFIER, type AlertSink, type Notifier } from '../alerting.service';
import type { AnomalyNotification } from '../notifications/notification-channel';
import { alertFingerprint } from '../rules/rule-evaluator';
import { ANOMALY_PAGE_STORE, type AnomalyPageStore } from './anomaly-page-store';
import { ANOMALY_PAGE_TTL_MS, burstDecision, wantsPage } from './anomaly-policy';

export const ANOMALY_OPTIONS = Symbol('ANOMALY_OPTIONS');
export interface AnomalyOptions {
  /** At most one anomaly page per tenant + series within this window (signal time). */
  burstMs: number;
}

/** The notifications service in production; it also counts what burst control held back. */
export interface AnomalyNotifier extends Notifier {
  suppressed(notification: AnomalyNotification): void;
}

/** The ruleId of anomaly alert events; also part of their fingerprint. */
export const ANOMALY_RULE_ID = 'anomaly';

/**
 * Anomaly signals in, pages and self-resolving alert events out. Only the signal's own tenant's
 * `anomalies` config is applied (the tenant comes from the record's authenticated header). Each page
 * is named by tenant + series fingerprint + signal timestamp in the notification log, so replays never
 * page twice; the last page's time is remembered in Redis after the page and the event succeeded, so
 * a failure retries the whole page.
 */
@Injectable()
export class AnomaliesService {
  constructor(
    @Inject(TenantDirectory) private readonly directory: TenantDirectory,
    @Inject(NOTIFIER) private readonly notifier: AnomalyNotifier,
    @Inject(ALERT_SINK) private readonly sink: AlertSink,
    @Inject(ANOMALY_PAGE_STORE) private readonly store: AnomalyPageStore,
    @Inject(ANOMALY_OPTIONS) private readonly options: AnomalyOptions,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async handleBatch(tenant: string, batch: SignalBatch, traceparent?: string): Promise<void> {
    const config = this.directory.alertConfig(tenant)?.anomalies;
    if (!config) return;
    // Oldest first, so burst control sees a series' signals in order.
    const signals = batch.signals.filter((s) => wantsPage(config, s)).sort((a, b) => a.timestamp - b.timestamp);
    for (const signal of signals) {
      const notification = this.notificationOf(tenant, signal, config);
      const last = await this.store.lastPaged(tenant, notification.fingerprint);
      if (burstDecision(last, signal.timestamp, this.options.burstMs) === 'suppress') {
        this.notifier.suppressed(notification);
        this.logger.info({ tenant, fingerprint: notification.fingerprint, timestamp: signal.timestamp, lastPagedAt: last }, 'anomaly page suppressed (burst control)');
        continue;
      }
      await this.notifier.notify(notification);
      await this.sink.publish([{ tenant, value: eventOf(notification, config.minScore), traceparent }]);
      if (!this.directory.isErased(tenant)) await this.store.recordPage(tenant, notification.fingerprint, signal.timestamp);
      this.logger.info({ tenant, traceId: traceparent?.slice(3, 35), fingerprint: notification.fingerprint, score: signal.score }, 'anomaly page');
    }
  }

  private notificationOf(tenant: string, signal: Signal, config: AnomalyAlerting): AnomalyNotification {
    return {
      tenant,
      locale: this.directory.tenant(tenant)?.locale ?? 'en',
      state: 'anomaly',
      fingerprint: alertFingerprint(ANOMALY_RULE_ID, signal.series.name, signal.series.labels),
      series: signal.series,
      value: signal.value,
      startsAt: signal.timestamp,
      endsAt: signal.timestamp + ANOMALY_PAGE_TTL_MS,
      detector: signal.detector,
      score: signal.score,
      explanation: signal.explanation,
      severity: config.severity,
      route: { slackChannel: this.directory.alertConfig(tenant)?.slackChannel },
    };
  }
}

/**
 * Firing with an `endsAt` (Alertmanager's self-resolving alert): no resolve message follows. `value`
 * and `threshold` are the score and the tenant's minScore, the pair that decided the page; the metric's
 * own value and the detector's explanation are in the summary.
 */
function eventOf(n: AnomalyNotification, minScore: number): AlertEvent {
  return {
    fingerprint: n.fingerprint,
    ruleId: ANOMALY_RULE_ID,
    state: 'firing',
    labels: { ...n.series.labels, alertname: ANOMALY_RULE_ID, severity: n.severity, detector: n.detector },
    annotations: { summary: `${n.series.name}: ${n.explanation} (score ${Math.round(n.score * 100) / 100})`.slice(0, 1000) },
    value: n.score,
    threshold: minScore,
    startsAt: n.startsAt,
    endsAt: n.endsAt,
  };
}
