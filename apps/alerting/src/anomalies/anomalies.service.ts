import { Inject, Injectable } from '@nestjs/common';
import type { AlertEvent, Signal, SignalBatch, SignalRule } from '@headroom/contracts';
import { Counter, type Registry } from 'prom-client';
import { LOGGER, METRICS, type Logger } from '@headroom/runtime';
import { TenantDirectory } from '@headroom/tenancy';
import { alertFingerprint } from '@headroom/rules';
import { ALERT_SINK, type AlertSink } from '../alerting.service';
import { ANOMALY_PAGE_STORE, type AnomalyPageStore } from './anomaly-page-store';
import { ANOMALY_PAGE_TTL_MS, burstDecision, ruleWants, signalRulesOf } from './anomaly-policy';

export const ANOMALY_OPTIONS = Symbol('ANOMALY_OPTIONS');
export interface AnomalyOptions {
  /** At most one anomaly page per tenant + series within this window (signal time). */
  burstMs: number;
}

/** One anomaly signal worth a page, before it becomes an alert event. */
interface AnomalyPage {
  fingerprint: string;
  kind: Signal['kind'];
  series: Signal['series'];
  value: number;
  startsAt: number;
  endsAt: number;
  detector: string;
  score: number;
  explanation: string;
  severity: SignalRule['severity'];
}


/**
 * Anomaly signals in, self-resolving alert events out (firing with an `endsAt`), which the
 * dispatcher routes like any other alert. Only the signal's own tenant's `anomalies` config is
 * applied (the tenant comes from the record's authenticated header). The last page's time is
 * remembered in Redis after the event was published, so a failure retries the whole page; a
 * replayed page is the same alert event (fingerprint + startsAt), which the dispatcher dedupes.
 */
@Injectable()
export class AnomaliesService {
  private readonly suppressedPages: Counter;

  constructor(
    @Inject(TenantDirectory) private readonly directory: TenantDirectory,
    @Inject(ALERT_SINK) private readonly sink: AlertSink,
    @Inject(ANOMALY_PAGE_STORE) private readonly store: AnomalyPageStore,
    @Inject(ANOMALY_OPTIONS) private readonly options: AnomalyOptions,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(METRICS) metrics: Registry,
  ) {
    this.suppressedPages = new Counter({ name: 'headroom_alerts_anomaly_pages_suppressed_total', help: 'Anomaly pages held back by burst control.', registers: [metrics] });
  }

  async handleBatch(tenant: string, batch: SignalBatch, traceparent?: string): Promise<void> {
    const config = this.directory.alertConfig(tenant);
    const rules = signalRulesOf(config?.anomalies, config?.signalRules);
    if (rules.length === 0) return;
    // Oldest first, so burst control sees a series' signals in order.
    const pages = batch.signals
      .flatMap((signal) => rules.filter((rule) => ruleWants(rule, signal)).map((rule) => ({ signal, rule })))
      .sort((a, b) => a.signal.timestamp - b.signal.timestamp);
    for (const { signal, rule } of pages) {
      const notification = this.pageOf(signal, rule);
      const last = await this.store.lastPaged(tenant, notification.fingerprint);
      if (burstDecision(last, signal.timestamp, this.options.burstMs) === 'suppress') {
        this.suppressedPages.inc();
        this.logger.info({ tenant, fingerprint: notification.fingerprint, timestamp: signal.timestamp, lastPagedAt: last }, 'anomaly page suppressed (burst control)');
        continue;
      }
      await this.sink.publish([{ tenant, value: eventOf(notification, rule), traceparent }]);
      if (!this.directory.isErased(tenant)) await this.store.recordPage(tenant, notification.fingerprint, signal.timestamp);
      this.logger.info({ tenant, traceId: traceparent?.slice(3, 35), fingerprint: notification.fingerprint, score: signal.score }, 'anomaly page');
    }
  }

  private pageOf(signal: Signal, rule: SignalRule): AnomalyPage {
    return {
      fingerprint: alertFingerprint(rule.id, { ...signal.series.labels, __name__: signal.series.name }),
      kind: signal.kind,
      series: signal.series,
      value: signal.value,
      startsAt: signal.timestamp,
      endsAt: signal.timestamp + ANOMALY_PAGE_TTL_MS,
      detector: signal.detector,
      score: signal.score,
      explanation: signal.explanation,
      severity: rule.severity,
    };
  }
}

/**
 * Firing with an `endsAt` (Alertmanager's self-resolving alert): no resolve message follows. `value`
 * and `threshold` are the score and the tenant's minScore, the pair that decided the page; the metric's
 * own value and the detector's explanation are in the summary.
 */
function eventOf(n: AnomalyPage, rule: SignalRule): AlertEvent {
  return {
    fingerprint: n.fingerprint,
    ruleId: rule.id,
    state: 'firing',
    labels: { ...n.series.labels, alertname: rule.id, severity: n.severity, detector: n.detector, ...(n.kind !== 'anomaly' ? { signal: n.kind } : {}) },
    annotations: { summary: `${n.series.name}: ${n.explanation} (score ${Math.round(n.score * 100) / 100})`.slice(0, 1000) },
    value: n.score,
    threshold: rule.minScore,
    startsAt: n.startsAt,
    endsAt: n.endsAt,
    observedAt: Date.now(),
  };
}
