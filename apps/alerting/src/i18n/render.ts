import type { GroupNotification } from '../channels/channel';

/**
 * Everything a channel needs to word a group notification, already localised and as plain text
 * (channels escape it for their own markup: mrkdwn, HTML).
 * PLACEHOLDER (English only) until the ICU catalogs land; the signature is the contract.
 */
export interface RenderedNotification {
  /** BCP 47 language actually used after fallback (fr-CA → fr → en). */
  language: string;
  /** e.g. `[FIRING:2] HighLatency (endpoint=/search)` / `[ALERTE:2] …` */
  title: string;
  /** Word for the status: FIRING / RESOLVED / ACKNOWLEDGED / ESCALATED, localised. */
  statusLabel: string;
  /** One entry per alert: a headline and detail lines (value, since, runbook). */
  alerts: { headline: string; details: string[]; runbookUrl?: string }[];
  /** Short one-line text (SMS, Slack fallback `text`, e-mail subject). */
  short: string;
  /** Labels for actions, e.g. { acknowledge: 'Acknowledge' }. */
  actions: { acknowledge: string; runbook: string };
}

export function renderNotification(n: GroupNotification): RenderedNotification {
  const firing = n.alerts.filter((a) => a.status === 'firing').length;
  const statusLabel = n.reason === 'acknowledged' ? 'ACKNOWLEDGED' : n.reason === 'escalation' ? 'ESCALATED' : n.status === 'firing' ? 'FIRING' : 'RESOLVED';
  const name = n.commonLabels['alertname'] ?? n.groupKey;
  const group = Object.entries(n.groupLabels).map(([k, v]) => `${k}=${v}`).join(', ');
  const title = `[${statusLabel}${n.status === 'firing' ? `:${firing}` : ''}] ${name}${group ? ` (${group})` : ''}`;
  return {
    language: 'en',
    title,
    statusLabel,
    alerts: n.alerts.map((a) => ({
      headline: a.annotations['summary'] ?? a.labels['alertname'] ?? a.fingerprint,
      details: [`value ${a.value}`, `since ${new Date(a.startsAt).toISOString()}`],
      runbookUrl: a.annotations['runbook_url'],
    })),
    short: title,
    actions: { acknowledge: 'Acknowledge', runbook: 'Runbook' },
  };
}
