import { createHash } from 'node:crypto';
import { RECEIVER_SECRET_FIELDS } from '@headroom/contracts';
import { z } from 'zod';
import type { ChannelSender, ChannelType, ConfigProblem, GroupNotification, SendResult } from '../channel';
import { renderNotification } from '../../i18n/render';
import { checkHttpUrl, checkTimeout, classify, excerpt, post, redact, type Fetch } from '../webhook/http-delivery';

export interface PagerDutyConfig {
  /** Events API v2 endpoint; tests point it at a local server speaking the same API. */
  apiUrl: string;
  timeoutMs: number;
}

export const PAGERDUTY_SEVERITIES = ['critical', 'error', 'warning', 'info'] as const;
export type PagerDutySeverity = (typeof PAGERDUTY_SEVERITIES)[number];

export const PagerDutyTargetSchema = z
  .object({
    routing_key: z
      .string()
      .length(32, 'must be the 32-character integration key of an Events API v2 integration')
      .regex(/^[A-Za-z0-9]+$/, 'must hold letters and digits only'),
    /** Headroom severity (the alert's `severity` label) → PagerDuty severity, over the defaults. */
    severity_map: z.record(z.string(), z.enum(PAGERDUTY_SEVERITIES)).optional(),
  })
  .strict();

export type PagerDutyTarget = z.infer<typeof PagerDutyTargetSchema>;

const DEFAULT_SEVERITY_MAP: Record<string, PagerDutySeverity> = { critical: 'critical', warning: 'warning', info: 'info', security: 'critical' };
/** PagerDuty's own default when nothing says otherwise (Alertmanager's too). */
const FALLBACK_SEVERITY: PagerDutySeverity = 'error';
const RANK: Record<PagerDutySeverity, number> = { critical: 3, error: 2, warning: 1, info: 0 };

/** The Events API's limits: longer values are refused with a 400. */
const MAX_SUMMARY = 1024;
const MAX_DEDUP_KEY = 255;

/** Stable per tenant and group, so trigger, acknowledge and resolve all land on the same incident. */
export function dedupKey(n: Pick<GroupNotification, 'tenant' | 'groupKey'>): string {
  const key = `${n.tenant}/${n.groupKey}`;
  // Still stable when a long group key would exceed the API's limit.
  return key.length <= MAX_DEDUP_KEY ? key : `${n.tenant}/sha256:${createHash('sha256').update(n.groupKey).digest('hex')}`.slice(0, MAX_DEDUP_KEY);
}

function mapSeverity(n: GroupNotification, target: PagerDutyTarget): PagerDutySeverity {
  const map = { ...DEFAULT_SEVERITY_MAP, ...target.severity_map };
  // hasOwn: a tenant's `severity="constructor"` must not find Object.prototype's.
  const of = (severity: string | undefined) => (severity !== undefined && Object.hasOwn(map, severity) ? map[severity]! : FALLBACK_SEVERITY);
  const common = n.commonLabels['severity'];
  if (common !== undefined) return of(common);
  const firing = n.alerts.filter((a) => a.status === 'firing');
  const severities = (firing.length ? firing : n.alerts).map((a) => of(a.labels['severity']));
  return severities.reduce<PagerDutySeverity>((worst, s) => (RANK[s] > RANK[worst] ? s : worst), severities[0] ?? FALLBACK_SEVERITY);
}

/** Only http(s) links: PagerDuty renders them clickable, and a tenant-written `javascript:` URL must not be. */
function safeLink(href: string | undefined): string | undefined {
  if (!href) return undefined;
  try {
    const url = new URL(href);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.toString() : undefined;
  } catch {
    return undefined;
  }
}

export type PagerDutyEvent = Record<string, unknown> & { routing_key: string; event_action: 'trigger' | 'acknowledge' | 'resolve'; dedup_key: string };

/** The Events API v2 event for a notification: resolve, acknowledge, or (re)trigger the group's one incident. */
export function pagerDutyEvent(n: GroupNotification, target: PagerDutyTarget): PagerDutyEvent {
  const base = { routing_key: target.routing_key, dedup_key: dedupKey(n) };
  if (n.status === 'resolved') return { ...base, event_action: 'resolve' };
  if (n.reason === 'acknowledged') return { ...base, event_action: 'acknowledge' };
  const rendered = renderNotification(n);
  const labels = n.commonLabels;
  const links = [
    ...new Map(
      n.alerts
        .map((a) => safeLink(a.annotations['runbook_url']))
        .filter((href): href is string => href !== undefined)
        .map((href) => [href, { href, text: rendered.actions.runbook }]),
    ).values(),
  ];
  const ack = safeLink(n.ackUrl);
  if (ack) links.push({ href: ack, text: rendered.actions.acknowledge });
  return {
    ...base,
    event_action: 'trigger',
    client: 'Headroom',
    payload: {
      summary: Array.from(rendered.short).slice(0, MAX_SUMMARY).join(''),
      source: labels['instance'] ?? labels['job'] ?? labels['service'] ?? `headroom/${n.tenant}`,
      severity: mapSeverity(n, target),
      timestamp: new Date(Math.min(...n.alerts.map((a) => a.startsAt), n.createdAt)).toISOString(),
      ...(labels['alertname'] ? { class: labels['alertname'] } : {}),
      ...(labels['service'] ? { component: labels['service'] } : {}),
      // JSON values: PagerDuty shows them as text, so tenant strings stay inert.
      custom_details: {
        tenant: n.tenant,
        receiver: n.receiver,
        reason: n.reason,
        ...(n.escalationStep !== undefined ? { escalation_step: n.escalationStep } : {}),
        group_labels: n.groupLabels,
        common_labels: n.commonLabels,
        common_annotations: n.commonAnnotations,
        firing: n.alerts.filter((a) => a.status === 'firing').length,
        alerts: n.alerts.map((a) => ({ status: a.status, labels: a.labels, annotations: a.annotations, value: a.value, starts_at: new Date(a.startsAt).toISOString() })),
      },
    },
    ...(links.length ? { links } : {}),
  };
}

export class PagerDutySender implements ChannelSender<PagerDutyTarget> {
  constructor(
    private readonly config: PagerDutyConfig,
    private readonly deps: { fetch?: Fetch } = {},
  ) {}

  async send(n: GroupNotification, target: PagerDutyTarget): Promise<SendResult> {
    const event = pagerDutyEvent(n, target);
    const answer = await post(this.deps.fetch ?? fetch, this.config.apiUrl, {
      what: 'pagerduty',
      timeoutMs: this.config.timeoutMs,
      body: JSON.stringify(event),
      headers: { 'content-type': 'application/json', 'user-agent': 'Headroom-Alerting' },
    });
    const outcome = classify(answer, 'pagerduty', redact(apiMessage(answer.text), [target.routing_key]));
    return outcome === 'sent' ? { outcome: 'sent', thread: { dedup_key: event.dedup_key } } : { outcome: 'rejected', reason: outcome.rejected };
  }
}

/** The Events API's error body is `{ status, message, errors: [...] }`; its message and errors say what to fix. */
function apiMessage(text: string): string {
  try {
    const body = JSON.parse(text) as { message?: unknown; errors?: unknown };
    const errors = Array.isArray(body.errors) ? body.errors.map(String) : [];
    const parts = [typeof body.message === 'string' ? body.message : '', ...errors].filter(Boolean);
    if (parts.length) return excerpt(parts.join('; '), 500);
  } catch {
    // not JSON: fall through to the raw text
  }
  return excerpt(text);
}

export const pagerDutyChannel: ChannelType<PagerDutyConfig, PagerDutyTarget> = {
  type: 'pagerduty',
  defaultConfig: () => ({ apiUrl: 'https://events.pagerduty.com/v2/enqueue', timeoutMs: 10_000 }),
  validate(config) {
    const problems: ConfigProblem[] = [];
    checkHttpUrl(problems, config.apiUrl, 'apiUrl', 'https://events.pagerduty.com/v2/enqueue');
    checkTimeout(problems, config.timeoutMs);
    return problems;
  },
  targetSchema: PagerDutyTargetSchema,
  secretFields: RECEIVER_SECRET_FIELDS.pagerduty,
  create: (config) => new PagerDutySender(config),
};
