import { z } from 'zod';
import { baseEnvSchema, databaseEnvSchema, portEnv, redisEnvSchema } from '@headroom/config';
import type { ConfigProblem } from './channels/channel';
import { checkEgressAllow } from './channels/egress';

export const SLACK_DEFAULT_API_URL = 'https://slack.com/api/';

export const alertingEnvSchema = baseEnvSchema
  .merge(portEnv(4030))
  .merge(redisEnvSchema)
  .merge(databaseEnvSchema)
  .merge(
    z.object({
      /** Bot token used for chat.postMessage (xoxb-…); one Slack app serves every tenant's channel. */
      SLACK_TOKEN: z.string({ required_error: 'is required: the Slack bot token (xoxb-…)' }).min(1, 'must not be empty'),
      /** Points the real client at another server speaking Slack's Web API (tests, proxies). */
      SLACK_API_URL: z.string().url('must be a URL such as https://slack.com/api/').default(SLACK_DEFAULT_API_URL),
      /** Verifies Slack's interactivity requests (the Acknowledge button); without it the endpoint answers 503. */
      SLACK_SIGNING_SECRET: z.string().min(16, 'must be the Slack app signing secret').optional(),
      PAGERDUTY_EVENTS_URL: z.string().url().default('https://events.pagerduty.com/v2/enqueue'),
      /** SMTP relay for the email channel (smtp://user:pass@host:port or smtps://…); without it e-mail receivers are refused. */
      SMTP_URL: z.string().regex(/^smtps?:\/\//, 'must be smtp:// or smtps://').optional(),
      SMTP_FROM: z.string().min(3).default('Headroom <alerts@headroom.local>'),
      /** Public base URL of this service, for acknowledgement links in notifications. */
      ALERTING_PUBLIC_URL: z.string().url().optional(),
      ALERTING_GROUP_ID: z.string().min(1).default('alerting'),
      /**
       * CIDRs that tenants' webhook and SMS URLs may reach although they are not public unicast
       * (comma-separated, e.g. 10.0.0.0/8 for receivers inside the cluster). Empty by default: loopback,
       * private, link-local (cloud metadata) and other internal ranges are refused.
       */
      ALERTING_EGRESS_ALLOW: z
        .string()
        .default('')
        .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
        .superRefine((cidrs, ctx) => {
          const problems: ConfigProblem[] = [];
          checkEgressAllow(problems, cidrs, '');
          for (const p of problems) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${p.path.replace(/^\./, 'entry ')}: ${p.message}` });
        }),
      /** An instant is evaluated this long after its last window arrived (or at once when a later instant arrives). */
      ALERTING_SETTLE_MS: z.coerce.number().int().min(0).max(60_000).default(300),
      /** Sends in flight at once across all tenants (each tenant + receiver queue sends one at a time). */
      ALERTING_DISPATCH_CONCURRENCY: z.coerce.number().int().min(1).max(512).default(32),
      /** Attempts before a notification goes to the DLQ. */
      ALERTING_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(8),
      ALERTING_BACKOFF_BASE_MS: z.coerce.number().int().min(10).max(600_000).default(1_000),
      ALERTING_BACKOFF_MAX_MS: z.coerce.number().int().min(100).max(3_600_000).default(300_000),
      /** Default notification rate limits (per minute), per tenant and per tenant + receiver. */
      ALERTING_TENANT_RATE_PER_MINUTE: z.coerce.number().int().min(1).default(600),
      ALERTING_RECEIVER_RATE_PER_MINUTE: z.coerce.number().int().min(1).default(120),
      /** Burst control: at most one anomaly page per tenant + series within this many minutes. */
      ALERTING_ANOMALY_BURST_MINUTES: z.coerce.number().int('must be a whole number of minutes').min(0).max(1440).default(15),
    }),
  );
export type AlertingConfig = z.infer<typeof alertingEnvSchema>;
