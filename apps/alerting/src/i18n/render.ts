import type { AlertInstance, GroupNotification } from '../channels/channel';
import { explainSeasonal, parseExplanation } from './explain';
import { formatterFor, type LocaleFormatter } from './format';
import { resolveLocale } from './locale';
import { Messages } from './messages';

export interface RenderedAlert {
  /** The summary annotation, a localised anomaly explanation, or the alert name. */
  headline: string;
  /** Value, since when, for how long — one line each. */
  details: string[];
  /** As the tenant wrote it: channels check the scheme before linking it. */
  runbookUrl?: string;
  status: 'firing' | 'resolved';
}

/**
 * Everything a channel needs to word a group notification, already localised and as plain text
 * (channels escape it for their own markup: mrkdwn, HTML).
 */
export interface RenderedNotification {
  /** BCP 47 language actually used after fallback (fr-CA → fr → en). */
  language: string;
  /** e.g. `[FIRING] HighLatency (endpoint=/search) — 2 alerts firing` / `[ALERTE] … — 2 alertes actives` */
  title: string;
  /** Word for the status: FIRING / RESOLVED / ACKNOWLEDGED / ESCALATED, localised. */
  statusLabel: string;
  /** One entry per alert: a headline and detail lines (value, since, runbook). */
  alerts: RenderedAlert[];
  /** Short one-line text (SMS, Slack fallback `text`, e-mail subject). */
  short: string;
  /** Labels for actions, e.g. { acknowledge: 'Acknowledge' }. */
  actions: { acknowledge: string; runbook: string };
  /** Locale numbers and dates were formatted with (`fr-CA` keeps its own conventions with the `fr` catalog). */
  locale: string;
  /** IANA zone of the dates shown (UTC unless the route gave a valid one). */
  timeZone: string;
  /** Why this message, when it is more than firing/resolved: the escalation step, or who acknowledged. */
  reasonLine?: string;
  /** `Tenant: label-a` */
  tenantLine: string;
  /** The group's labels as `key=value`, sorted by key (plain text). */
  groupLabels: string[];
}

export interface RenderOptions {
  /** IANA time zone for dates (from the route); invalid or absent → UTC. */
  timeZone?: string;
}

function labelPairs(labels: Record<string, string>, skip?: string): string[] {
  return Object.keys(labels)
    .filter((k) => k !== skip)
    .sort()
    .map((k) => `${k}=${labels[k]}`);
}

function statusKey(n: GroupNotification): 'status.acknowledged' | 'status.escalated' | 'status.firing' | 'status.resolved' {
  if (n.status === 'resolved') return 'status.resolved';
  if (n.reason === 'acknowledged') return 'status.acknowledged';
  if (n.reason === 'escalation') return 'status.escalated';
  return 'status.firing';
}

function renderAlert(a: AlertInstance, n: GroupNotification, messages: Messages, fmt: LocaleFormatter): RenderedAlert {
  const explanation = parseExplanation(a.annotations['explanation_json']);
  const headline = explanation
    ? messages.text('anomaly.frame', { explanation: explainSeasonal(explanation, messages, fmt), score: fmt.number(a.value) })
    : (a.annotations['summary'] ?? a.labels['alertname'] ?? a.fingerprint);
  const threshold = Number(a.annotations['threshold'] ?? NaN);
  const value = fmt.number(a.value);
  const details = [
    Number.isFinite(threshold) ? messages.text('alert.valueThreshold', { value, threshold: fmt.number(threshold) }) : messages.text('alert.value', { value }),
    messages.text('alert.since', { since: fmt.dateTime(a.startsAt) }),
    a.status === 'firing'
      ? messages.text('alert.firingFor', { duration: fmt.duration(n.createdAt - a.startsAt) })
      : messages.text('alert.resolvedAfter', { duration: fmt.duration((a.endsAt ?? n.createdAt) - a.startsAt) }),
  ];
  return { headline, details, runbookUrl: a.annotations['runbook_url'] ?? n.commonAnnotations['runbook_url'], status: a.status };
}

function context(n: GroupNotification, options: RenderOptions): { messages: Messages; fmt: LocaleFormatter } {
  const { language, formatLocale } = resolveLocale(n.locale);
  return { messages: new Messages(language, formatLocale, n.templates), fmt: formatterFor(formatLocale, options.timeZone) };
}

/** The notification worded in `n.locale` (with fallback), the tenant's template overrides applied. */
export function renderNotification(n: GroupNotification, options: RenderOptions = {}): RenderedNotification {
  const { messages, fmt } = context(n, options);
  const statusLabel = messages.text(statusKey(n));
  const alertname = n.commonLabels['alertname'] ?? n.groupLabels['alertname'] ?? n.groupKey;
  const scope = labelPairs(n.groupLabels, 'alertname');
  const name = scope.length > 0 ? `${alertname} (${scope.join(', ')})` : alertname;
  const count = n.status === 'firing' ? n.alerts.filter((a) => a.status === 'firing').length : n.alerts.length;
  const title = messages.text(n.status === 'firing' ? 'title.firing' : 'title.resolved', { status: statusLabel, name, count });
  let reasonLine: string | undefined;
  if (n.reason === 'escalation' && n.escalationStep !== undefined) {
    reasonLine = messages.text('escalation.step', { step: fmt.number(n.escalationStep + 1) });
  } else if (n.reason === 'acknowledged' && n.acknowledged) {
    reasonLine = messages.text('ack.by', { user: n.acknowledged.by, at: fmt.dateTime(n.acknowledged.at) });
  }
  return {
    language: messages.language,
    locale: fmt.locale,
    timeZone: fmt.timeZone,
    title,
    statusLabel,
    alerts: n.alerts.map((a) => renderAlert(a, n, messages, fmt)),
    short: title,
    actions: { acknowledge: messages.text('action.acknowledge'), runbook: messages.text('action.runbook') },
    reasonLine,
    tenantLine: messages.text('tenant', { tenant: n.tenant }),
    groupLabels: labelPairs(n.groupLabels),
  };
}

/** `… and 3 more alerts`, for a channel that shows only the first alerts of a large group. */
export function renderMoreAlerts(n: GroupNotification, hidden: number, options: RenderOptions = {}): string {
  return context(n, options).messages.text('alert.more', { count: hidden });
}
