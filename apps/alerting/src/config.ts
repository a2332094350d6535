import { z } from 'zod';
import { baseEnvSchema, portEnv, redisEnvSchema } from '@headroom/config';

export const SLACK_DEFAULT_API_URL = 'https://slack.com/api/';

export const alertingEnvSchema = baseEnvSchema
  .merge(portEnv(4030))
  .merge(redisEnvSchema)
  .merge(
    z.object({
      /** Bot token used for chat.postMessage (xoxb-…); one Slack app serves every tenant's channel. */
      SLACK_TOKEN: z.string({ required_error: 'is required: the Slack bot token (xoxb-…)' }).min(1, 'must not be empty'),
      /** Points the real client at another server speaking Slack's Web API (tests, proxies). */
      SLACK_API_URL: z.string().url('must be a URL such as https://slack.com/api/').default(SLACK_DEFAULT_API_URL),
      ALERTING_GROUP_ID: z.string().min(1).default('alerting'),
      /** Burst control: at most one anomaly page per tenant + series within this many minutes. */
      ALERTING_ANOMALY_BURST_MINUTES: z.coerce.number().int('must be a whole number of minutes').min(0).max(1440).default(15),
    }),
  );
export type AlertingConfig = z.infer<typeof alertingEnvSchema>;
