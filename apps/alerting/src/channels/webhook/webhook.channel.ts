import { createHmac, timingSafeEqual } from 'node:crypto';
import { RECEIVER_SECRET_FIELDS } from '@headroom/contracts';
import { z } from 'zod';
import type { ChannelSender, ChannelType, ConfigProblem, GroupNotification, SendResult } from '../channel';
import { checkEgressAllow, EgressPolicy } from '../egress';
import { checkHttpUrl, checkTimeout, classify, excerpt, isPlainHttpUrl, post, redact, type Fetch } from './http-delivery';

export interface WebhookConfig {
  /** Alertmanager's `externalURL`: where a receiver can link back to (the alerting UI or API). */
  externalUrl: string;
  timeoutMs: number;
  /** CIDRs a tenant's webhook may resolve to although not public unicast (see ../egress.ts). */
  egressAllow: string[];
}

export const WebhookTargetSchema = z
  .object({
    url: z.string().superRefine((value, ctx) => {
      const check = isPlainHttpUrl(value);
      if (!check.ok) ctx.addIssue({ code: z.ZodIssueCode.custom, message: check.message });
    }),
    secret: z.string().min(16, 'must be at least 16 characters (it keys the HMAC signature)').max(256),
    /** Alertmanager's `max_alerts`: at most this many alerts in the body, the rest counted in `truncatedAlerts` (0 = all). */
    max_alerts: z.number().int().min(0).optional(),
  })
  .strict();

export type WebhookTarget = z.infer<typeof WebhookTargetSchema>;

export const SIGNATURE_HEADER = 'X-Headroom-Signature';
export const TIMESTAMP_HEADER = 'X-Headroom-Timestamp';

/** Alertmanager's zero time, which it sends as `endsAt` for alerts still firing. */
const ZERO_TIME = '0001-01-01T00:00:00Z';

/** The body: Alertmanager's webhook payload (version 4), so existing receivers read it, plus a `headroom` block. */
export function webhookPayload(n: GroupNotification, target: WebhookTarget, externalUrl: string): object {
  const max = target.max_alerts ?? 0;
  const alerts = max > 0 ? n.alerts.slice(0, max) : n.alerts;
  return {
    version: '4',
    groupKey: n.groupKey,
    truncatedAlerts: n.alerts.length - alerts.length,
    status: n.status,
    receiver: n.receiver,
    groupLabels: n.groupLabels,
    commonLabels: n.commonLabels,
    commonAnnotations: n.commonAnnotations,
    externalURL: externalUrl,
    alerts: alerts.map((a) => ({
      status: a.status,
      labels: a.labels,
      annotations: a.annotations,
      startsAt: new Date(a.startsAt).toISOString(),
      endsAt: a.endsAt === undefined ? ZERO_TIME : new Date(a.endsAt).toISOString(),
      generatorURL: '',
      fingerprint: a.fingerprint,
    })),
    headroom: {
      tenant: n.tenant,
      reason: n.reason,
      escalationStep: n.escalationStep ?? 0,
      acknowledged: n.acknowledged ? { by: n.acknowledged.by, at: new Date(n.acknowledged.at).toISOString() } : null,
    },
  };
}

/** `v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`: the timestamp is signed so a captured request cannot be replayed later. */
export function signWebhook(secret: string, timestamp: number, body: string | Buffer): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex')}`;
}

export type SignatureCheck = { ok: true } | { ok: false; reason: 'malformed' | 'stale' | 'mismatch' };

/**
 * What a receiver runs on each request, over the raw body bytes (not re-serialised JSON). Refuses a
 * timestamp more than `toleranceSeconds` away from `now` (ms), which bounds replays. The header may
 * hold several comma-separated `v1=` values (secret rotation): one match is enough.
 */
export function verifyWebhookSignature(args: {
  secret: string;
  timestamp: string | number | undefined;
  body: string | Buffer;
  signature: string | undefined;
  toleranceSeconds?: number;
  now?: number;
}): SignatureCheck {
  const { secret, body, signature, toleranceSeconds = 300, now = Date.now() } = args;
  const timestamp = typeof args.timestamp === 'number' ? args.timestamp : /^\d{1,12}$/.test(args.timestamp ?? '') ? Number(args.timestamp) : NaN;
  const candidates = (signature ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => /^v1=[0-9a-f]{64}$/i.test(s))
    .map((s) => Buffer.from(s.slice(3), 'hex'));
  if (!Number.isSafeInteger(timestamp) || candidates.length === 0) return { ok: false, reason: 'malformed' };
  if (Math.abs(now / 1000 - timestamp) > toleranceSeconds) return { ok: false, reason: 'stale' };
  const expected = Buffer.from(signWebhook(secret, timestamp, body).slice(3), 'hex');
  // Every candidate is compared, in constant time each, so timing reveals neither which one nor how much matched.
  let match = false;
  for (const candidate of candidates) match = timingSafeEqual(candidate, expected) || match;
  return match ? { ok: true } : { ok: false, reason: 'mismatch' };
}

export class WebhookSender implements ChannelSender<WebhookTarget> {
  private readonly fetchFn: Fetch;

  constructor(
    private readonly config: WebhookConfig,
    private readonly deps: { fetch?: Fetch; now?: () => number } = {},
  ) {
    // The tenant chooses the URL: only the egress policy's fetch may reach it.
    this.fetchFn = deps.fetch ?? new EgressPolicy(config.egressAllow).fetch();
  }

  async send(n: GroupNotification, target: WebhookTarget): Promise<SendResult> {
    const body = JSON.stringify(webhookPayload(n, target, this.config.externalUrl));
    const timestamp = Math.floor((this.deps.now ?? Date.now)() / 1000);
    const answer = await post(this.fetchFn, target.url, {
      what: 'webhook',
      timeoutMs: this.config.timeoutMs,
      body,
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Headroom-Alerting',
        [TIMESTAMP_HEADER]: String(timestamp),
        [SIGNATURE_HEADER]: signWebhook(target.secret, timestamp, body),
        'Idempotency-Key': n.id,
      },
    });
    const outcome = classify(answer, 'webhook', redact(excerpt(answer.text), [target.secret, new URL(target.url).search.slice(1)]));
    return outcome === 'sent' ? { outcome: 'sent' } : { outcome: 'rejected', reason: outcome.rejected };
  }
}

export const webhookChannel: ChannelType<WebhookConfig, WebhookTarget> = {
  type: 'webhook',
  defaultConfig: () => ({ externalUrl: 'http://localhost:3000', timeoutMs: 10_000, egressAllow: [] }),
  validate(config) {
    const problems: ConfigProblem[] = [];
    checkHttpUrl(problems, config.externalUrl, 'externalUrl', 'https://alerts.example.com');
    checkTimeout(problems, config.timeoutMs);
    checkEgressAllow(problems, config.egressAllow);
    return problems;
  },
  targetSchema: WebhookTargetSchema,
  secretFields: RECEIVER_SECRET_FIELDS.webhook,
  create: (config) => new WebhookSender(config),
};
