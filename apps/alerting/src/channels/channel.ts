import type { z } from 'zod';
import type { Labels } from '@headroom/contracts';

/**
 * The contract between the dispatcher and every notification channel (Slack, PagerDuty, email,
 * webhook, SMS). A channel is one folder under `channels/` exporting a `ChannelType`, registered in
 * `channels/registry.ts`: adding a channel is adding a folder.
 *
 * Two levels of configuration, as in Alertmanager:
 * - the deployment's `Config` (API base URL, SMTP host, timeouts), from the environment, checked by
 *   `validate()` at boot (every problem listed with its path);
 * - the tenant's `Target` (Slack channel and bot token, PagerDuty routing key, e-mail addresses,
 *   webhook URL and secret), one per receiver in the tenant's alert config, checked by `targetSchema`
 *   when control accepts the config.
 */

/** One alert inside a group notification (Alertmanager's webhook payload shape, times in ms). */
export interface AlertInstance {
  fingerprint: string;
  status: 'firing' | 'resolved';
  /** Identifying labels, including `alertname` and `severity`. Tenant-controlled: escape before rendering. */
  labels: Labels;
  /** `summary`, `description`, `runbook_url`… Tenant-controlled: escape before rendering. */
  annotations: Record<string, string>;
  /** The rule's value when it last changed state. */
  value: number;
  startsAt: number;
  endsAt?: number;
}

/** Why this notification is sent now. */
export type NotificationReason = 'firing' | 'updated' | 'repeat' | 'escalation' | 'acknowledged' | 'resolved';

/** One message about one alert group to one receiver of one tenant. */
export interface GroupNotification {
  /** The outbox entry's id: stable across retries of this message (idempotency key where a provider takes one). */
  id: string;
  tenant: string;
  /** The tenant's receiver name (from its route tree). */
  receiver: string;
  /** Stable id of the alert group (route + group_by values): PagerDuty's dedup_key, the Slack thread's identity. */
  groupKey: string;
  /** `firing` while at least one alert of the group fires. */
  status: 'firing' | 'resolved';
  reason: NotificationReason;
  /** 0 for the first step of an escalation policy, 1 for the next… */
  escalationStep?: number;
  acknowledged?: { by: string; at: number };
  groupLabels: Labels;
  commonLabels: Labels;
  commonAnnotations: Record<string, string>;
  alerts: AlertInstance[];
  /** BCP 47 tag chosen for this route or tenant, e.g. `fr-CA`; rendering falls back fr-CA → fr → en. */
  locale: string;
  /** The tenant's overrides of message templates, by message key (ICU MessageFormat). */
  templates?: Record<string, string>;
  /** What this channel returned for the previous message of this group to this receiver (e.g. Slack `channel` and `ts`). */
  thread?: Record<string, string>;
  /** Where a person acknowledges this group (API URL), if the deployment exposes one. */
  ackUrl?: string;
  /** When the notification was created (ms). */
  createdAt: number;
}

/**
 * - `sent`: the provider accepted it; `thread` is remembered for the group's next message to this receiver.
 * - `rejected`: the provider refused it for a reason retrying will not fix (unknown channel, revoked
 *   token, 4xx other than 408/429): goes to the DLQ at once, with the reason.
 * Anything transient (network, timeout, 408, 429, 5xx) throws a `RetryableSendError`.
 */
export type SendResult = { outcome: 'sent'; thread?: Record<string, string> } | { outcome: 'rejected'; reason: string };

/** Transient failure: retried with exponential backoff, no sooner than `retryAfterMs` when the provider said so. */
export class RetryableSendError extends Error {
  constructor(
    message: string,
    readonly retryAfterMs?: number,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'RetryableSendError';
  }
}

export interface ConfigProblem {
  /** Dotted path into the config, e.g. `apiUrl` or `targets.0.url`. */
  path: string;
  message: string;
}

export interface ChannelSender<Target> {
  send(notification: GroupNotification, target: Target): Promise<SendResult>;
}

export interface ChannelType<Config, Target> {
  /** Also the key of the receiver's config list: `slack` → `slack_configs` in the tenant's receivers. */
  readonly type: string;
  defaultConfig(): Config;
  validate(config: Config): ConfigProblem[];
  /** The tenant's per-receiver settings; secrets in it are stored sealed and never logged. */
  readonly targetSchema: z.ZodType<Target>;
  /** Names of `Target` fields that are secrets (redacted from logs and from the config API's answers). */
  readonly secretFields: readonly string[];
  create(config: Config): ChannelSender<Target>;
}

/** Parses an HTTP `Retry-After` (seconds or HTTP date) into milliseconds from `now`; undefined if absent or unreadable. */
export function retryAfterMs(header: string | null | undefined, now = Date.now()): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
  const date = Date.parse(header);
  return Number.isFinite(date) ? Math.max(0, date - now) : undefined;
}
