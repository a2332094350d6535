import { ErrorCode, WebClient, type WebAPICallError } from '@slack/web-api';
import { formatAlertMessage } from '../alert-message';
import type { AlertNotification, ConfigProblem, DeliveryOutcome, NotificationChannel, NotificationChannelFactory } from '../notification-channel';

export interface SlackChannelConfig {
  token: string;
  /** Slack's Web API base URL; tests point it at a local server speaking the same API. */
  apiUrl: string;
  timeoutMs: number;
}

/** Platform errors that retrying cannot fix: the tenant's channel or our token is wrong. */
const PERMANENT_ERRORS = new Set([
  'channel_not_found',
  'not_in_channel',
  'is_archived',
  'msg_too_long',
  'invalid_auth',
  'not_authed',
  'account_inactive',
  'token_revoked',
  'missing_scope',
  'restricted_action',
]);

export class SlackChannel implements NotificationChannel {
  readonly type = 'slack';
  private readonly client: WebClient;

  constructor(config: SlackChannelConfig) {
    this.client = new WebClient(config.token, {
      slackApiUrl: config.apiUrl,
      timeout: config.timeoutMs,
      // The Kafka consumer already retries with backoff (and heartbeats while it waits); the client's own
      // default retries would hold a partition for up to half an hour inside one call.
      retryConfig: { retries: 0 },
      rejectRateLimitedCalls: true,
    });
  }

  async send(n: AlertNotification): Promise<DeliveryOutcome> {
    const channel = n.route.slackChannel;
    if (!channel) return { outcome: 'skipped' };
    try {
      await this.client.chat.postMessage({ channel, text: formatAlertMessage(n), unfurl_links: false, unfurl_media: false });
      return { outcome: 'sent' };
    } catch (err) {
      const e = err as WebAPICallError;
      if (e.code === ErrorCode.PlatformError && PERMANENT_ERRORS.has(e.data.error)) return { outcome: 'rejected', reason: e.data.error };
      throw err;
    }
  }
}

export const slackChannelFactory: NotificationChannelFactory<SlackChannelConfig> = {
  type: 'slack',
  defaultConfig: () => ({ token: '', apiUrl: 'https://slack.com/api/', timeoutMs: 10_000 }),
  validate(config) {
    const problems: ConfigProblem[] = [];
    if (typeof config.token !== 'string' || config.token.trim() === '') problems.push({ path: 'token', message: 'is required: a Slack bot token' });
    let url: URL | undefined;
    try {
      url = new URL(config.apiUrl);
    } catch {
      problems.push({ path: 'apiUrl', message: 'must be an absolute URL such as https://slack.com/api/' });
    }
    if (url && url.protocol !== 'https:' && url.protocol !== 'http:') problems.push({ path: 'apiUrl', message: 'must be an http(s) URL' });
    if (url && !url.pathname.endsWith('/')) problems.push({ path: 'apiUrl', message: 'must end with / (method names are appended to it)' });
    if (!Number.isInteger(config.timeoutMs) || config.timeoutMs <= 0) problems.push({ path: 'timeoutMs', message: 'must be a positive integer (milliseconds)' });
    return problems;
  },
  create: (config) => new SlackChannel(config),
};
