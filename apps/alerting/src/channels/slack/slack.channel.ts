import { ErrorCode, LogLevel, WebClient, type ChatPostMessageArguments, type ChatUpdateArguments, type Logger } from '@slack/web-api';
import { RECEIVER_SECRET_FIELDS } from '@headroom/contracts';
import { z } from 'zod';
import { validTimeZone } from '../../i18n/format';
import { renderMoreAlerts, renderNotification } from '../../i18n/render';
import { RetryableSendError, retryAfterMs, type ChannelSender, type ChannelType, type ConfigProblem, type GroupNotification, type SendResult } from '../channel';
import { groupMessage, threadReply, type SlackMessageContent } from './slack-message';

export interface SlackConfig {
  /** Slack's Web API base URL; tests point it at SlackMock. */
  apiUrl: string;
  timeoutMs: number;
  /** The app's signing secret, to verify interactivity requests (Acknowledge clicks); empty = interactivity off. */
  signingSecret: string;
}

export const slackTargetSchema = z
  .object({
    /** A channel id (`C0123ABCD`) or `#name`; the bot must be a member. */
    channel: z.string().regex(/^(#[^\s#,]{1,80}|[CGD][A-Z0-9]{8,})$/, 'must be a channel id such as C0123ABCD or a #name'),
    /** The bot token of the tenant's own installation of the app (each tenant, its own workspace). */
    bot_token: z.string().regex(/^xoxb-[A-Za-z0-9-]{10,250}$/, 'must be a Slack bot token (xoxb-…)'),
    /**
     * The workspace (team id, `T…`) the tenant installed the app in: an Acknowledge click is honoured
     * only from a workspace the tenant declared here (any workspace with the app could post a button
     * naming another tenant).
     */
    team_id: z.string().regex(/^[TE][A-Z0-9]{2,20}$/, 'must be a Slack team id such as T0123ABCD').optional(),
    /** IANA zone for dates in messages; UTC when absent. */
    time_zone: z
      .string()
      .refine((tz) => validTimeZone(tz) !== 'UTC' || /^(UTC|Etc\/UTC)$/i.test(tz), 'must be an IANA time zone such as Europe/Paris')
      .optional(),
  })
  .strict();
export type SlackTarget = z.infer<typeof slackTargetSchema>;

/** The part of `WebClient` the sender uses: unit specs hand in a fake. */
export interface SlackApi {
  chat: {
    postMessage(args: ChatPostMessageArguments): Promise<{ ok?: boolean; channel?: string; ts?: string }>;
    update(args: ChatUpdateArguments): Promise<{ ok?: boolean }>;
  };
}

/** Platform errors worth retrying; any other `ok: false` error is the tenant's setup (channel, token, scopes) or our payload. */
const TRANSIENT_ERRORS = new Set(['internal_error', 'fatal_error', 'service_unavailable', 'request_timeout', 'ratelimited']);
/** The thread's parent is gone (deleted, or no longer editable): start a new thread instead. */
const PARENT_GONE = new Set(['message_not_found', 'cant_update_message', 'edit_window_closed']);
const CLIENT_CACHE_SIZE = 1000;

/** Bot tokens never reach a message we produce; this catches one echoed back in a library or network error. */
function scrub(text: string): string {
  return text.replace(/xox[a-z]-[A-Za-z0-9-]+/g, 'xox?-[redacted]');
}

const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  setLevel: () => undefined,
  getLevel: () => LogLevel.ERROR,
  setName: () => undefined,
};

function platformError(err: unknown): string | undefined {
  const e = err as { code?: unknown; data?: { error?: unknown } };
  return e.code === ErrorCode.PlatformError && typeof e.data?.error === 'string' ? e.data.error : undefined;
}

/**
 * Maps a client failure to the dispatcher's contract: `rejected` for what retrying cannot fix,
 * `RetryableSendError` (with Slack's Retry-After) for the rest. Only our own wording and Slack's
 * error code leave this function: the library's errors carry request config (with the bot token).
 */
export function slackFailure(err: unknown): SendResult {
  const e = err as { code?: unknown; message?: unknown; retryAfter?: unknown; statusCode?: unknown; headers?: Record<string, unknown>; data?: { response_metadata?: { retryAfter?: unknown } } };
  const platform = platformError(err);
  if (platform !== undefined) {
    if (!TRANSIENT_ERRORS.has(platform)) return { outcome: 'rejected', reason: `slack: ${platform}` };
    const after = e.data?.response_metadata?.retryAfter;
    throw new RetryableSendError(`slack: ${platform}`, typeof after === 'number' ? after * 1000 : undefined, platform === 'ratelimited' ? 429 : undefined);
  }
  if (e.code === ErrorCode.RateLimitedError) {
    throw new RetryableSendError('slack: rate limited (HTTP 429)', typeof e.retryAfter === 'number' ? e.retryAfter * 1000 : undefined, 429);
  }
  if (e.code === ErrorCode.HTTPError && typeof e.statusCode === 'number') {
    const status = e.statusCode;
    if (status === 408 || status === 429 || status >= 500) {
      const header = e.headers?.['retry-after'];
      throw new RetryableSendError(`slack: HTTP ${status}`, retryAfterMs(typeof header === 'string' ? header : undefined), status);
    }
    return { outcome: 'rejected', reason: `slack: HTTP ${status}` };
  }
  const message = typeof e.message === 'string' ? scrub(e.message) : 'unknown error';
  // A 429 whose Retry-After the client could not read comes back as a plain Error.
  if (/rate limit|retry header/i.test(message)) throw new RetryableSendError('slack: rate limited (HTTP 429)', undefined, 429);
  if (e.code === ErrorCode.RequestError) throw new RetryableSendError(`slack: request failed: ${message.replace(/^A request error occurred: /, '')}`);
  throw new RetryableSendError(`slack: ${message}`);
}

export class SlackSender implements ChannelSender<SlackTarget> {
  // One client per bot token (each tenant's own workspace), least recently used evicted first.
  private readonly clients = new Map<string, SlackApi>();

  constructor(
    config: SlackConfig,
    private readonly newClient: (token: string) => SlackApi = (token) =>
      new WebClient(token, {
        slackApiUrl: config.apiUrl,
        timeout: config.timeoutMs,
        // The dispatcher retries with backoff; the client's own retries would hold a send for half an hour.
        retryConfig: { retries: 0 },
        rejectRateLimitedCalls: true,
        // Our errors are built by slackFailure; an attached axios error would carry the Authorization header.
        attachOriginalToWebAPIRequestError: false,
        allowAbsoluteUrls: false,
        logger: silentLogger,
      }),
  ) {}

  async send(n: GroupNotification, target: SlackTarget): Promise<SendResult> {
    const options = { timeZone: target.time_zone };
    const rendered = renderNotification(n, options);
    const parent = groupMessage(n, rendered, (hidden) => renderMoreAlerts(n, hidden, options));
    const api = this.clientFor(target.bot_token);
    try {
      const thread = n.thread?.['channel'] && n.thread['ts'] ? { channel: n.thread['channel'], ts: n.thread['ts'] } : undefined;
      if (!thread) return await this.postParent(api, target.channel, parent);
      try {
        // Parent first: an update is idempotent, so a retry after a failed reply repeats nothing visible.
        await api.chat.update({ channel: thread.channel, ts: thread.ts, ...parent });
      } catch (err) {
        if (PARENT_GONE.has(platformError(err) ?? '')) return await this.postParent(api, target.channel, parent);
        throw err;
      }
      const reply = threadReply(rendered);
      await api.chat.postMessage({ channel: thread.channel, thread_ts: thread.ts, ...reply, ...QUIET, reply_broadcast: n.reason === 'escalation' });
      return { outcome: 'sent', thread };
    } catch (err) {
      return slackFailure(err);
    }
  }

  private async postParent(api: SlackApi, channel: string, content: SlackMessageContent): Promise<SendResult> {
    const res = await api.chat.postMessage({ channel, ...content, ...QUIET });
    // Slack answers with the channel id even when posted to `#name`: the thread survives a rename.
    return { outcome: 'sent', thread: res.ts ? { channel: res.channel ?? channel, ts: res.ts } : undefined };
  }

  private clientFor(token: string): SlackApi {
    let client = this.clients.get(token);
    if (client) this.clients.delete(token);
    else client = this.newClient(token);
    this.clients.set(token, client);
    if (this.clients.size > CLIENT_CACHE_SIZE) this.clients.delete(this.clients.keys().next().value as string);
    return client;
  }
}

/** No link unfurling, no name linking, no markup in the fallback text: tenant text stays text. */
const QUIET = { mrkdwn: false, link_names: false, parse: 'none', unfurl_links: false, unfurl_media: false } as const;

export const slackChannel: ChannelType<SlackConfig, SlackTarget> = {
  type: 'slack',
  defaultConfig: () => ({ apiUrl: 'https://slack.com/api/', timeoutMs: 10_000, signingSecret: '' }),
  validate(config) {
    const problems: ConfigProblem[] = [];
    let url: URL | undefined;
    try {
      url = new URL(config.apiUrl);
    } catch {
      problems.push({ path: 'apiUrl', message: 'must be an absolute URL such as https://slack.com/api/' });
    }
    if (url && url.protocol !== 'https:' && url.protocol !== 'http:') problems.push({ path: 'apiUrl', message: 'must be an http(s) URL' });
    if (url && !url.pathname.endsWith('/')) problems.push({ path: 'apiUrl', message: 'must end with / (method names are appended to it)' });
    if (!Number.isInteger(config.timeoutMs) || config.timeoutMs <= 0) problems.push({ path: 'timeoutMs', message: 'must be a positive integer (milliseconds)' });
    if (typeof config.signingSecret !== 'string') problems.push({ path: 'signingSecret', message: 'must be a string (empty turns interactivity off)' });
    return problems;
  },
  targetSchema: slackTargetSchema,
  secretFields: RECEIVER_SECRET_FIELDS.slack,
  create: (config) => new SlackSender(config),
};
