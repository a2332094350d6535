import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SlackMessage {
  channel: string;
  text: string;
  blocks?: unknown;
  receivedAt: number;
  token: string | undefined;
  /** The message's id in its channel, as `chat.postMessage` answered. */
  ts: string;
  /** Set on a thread reply: the parent's `ts`. */
  threadTs?: string;
  replyBroadcast?: boolean;
}

export interface SlackUpdate {
  channel: string;
  ts: string;
  text: string;
  blocks?: unknown;
  receivedAt: number;
  token: string | undefined;
}

/** A scripted transport failure for the next calls: Slack's rate limit (HTTP 429 + Retry-After) or an outage. */
export type SlackFailure = { status: 429; retryAfterSeconds?: number } | { status: 500 | 502 | 503 | 504 };

export interface SignedSlackRequest {
  /** `payload=<url-encoded JSON>`, form-encoded as Slack sends interactivity requests. */
  body: string;
  headers: { 'content-type': string; 'x-slack-request-timestamp': string; 'x-slack-signature': string };
}

/**
 * A local HTTP server speaking the parts of Slack's Web API that Headroom uses (`chat.postMessage`,
 * `chat.update`, `auth.test`), so the real `@slack/web-api` client can be pointed at it with `slackApiUrl`.
 * Follows Slack's conventions: form-encoded or JSON bodies, HTTP 200 with `ok: false` and an error
 * code for bad tokens or unknown channels, HTTP 429 with `Retry-After` when rate limited.
 * It can also play Slack's side of interactivity: `clickPayload` + `signedAction` build the signed
 * block_actions request Slack would POST to Headroom when someone clicks a button.
 */
export class SlackMock {
  readonly messages: SlackMessage[] = [];
  readonly updates: SlackUpdate[] = [];
  /** Bodies POSTed to the `response_url`s handed out by `clickPayload`. */
  readonly responses: { path: string; body: unknown }[] = [];
  /** Channels that exist; others get `channel_not_found`. Empty set = accept any. */
  readonly channels = new Set<string>();
  /** Channels that answer `is_archived`. */
  readonly archived = new Set<string>();
  /** Bot tokens Slack accepts (one per tenant workspace); the constructor's token is one of them. */
  readonly validTokens: Set<string>;
  private readonly failures: SlackFailure[] = [];
  private server: Server | undefined;
  private seq = 0;

  constructor(validToken: string) {
    this.validTokens = new Set([validToken]);
  }

  async start(port = 0): Promise<string> {
    this.server = createServer(
      (req, res) =>
        void this.handle(req).then(({ status, body, headers }) => {
          res.writeHead(status, { 'content-type': 'application/json', ...headers });
          res.end(JSON.stringify(body));
        }),
    );
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    return this.url();
  }

  /** The value for `slackApiUrl`. */
  url(): string {
    const { port } = this.server!.address() as AddressInfo;
    return `http://127.0.0.1:${port}/api/`;
  }

  messagesFor(channel: string): SlackMessage[] {
    return this.messages.filter((m) => m.channel === channel);
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Clients keep connections alive (Node's default agent): close() alone would wait for them to time out.
    server.closeAllConnections();
    await closed;
  }

  /** Replies posted in the thread of the message `ts`. */
  repliesTo(ts: string): SlackMessage[] {
    return this.messages.filter((m) => m.threadTs === ts);
  }

  /** A message as Slack shows it now: its last `chat.update`, else as posted. */
  current(ts: string): { text: string; blocks?: unknown } | undefined {
    const updated = this.updates.filter((u) => u.ts === ts).at(-1);
    return updated ?? this.messages.find((m) => m.ts === ts);
  }

  /** `signedAction` as a method, for specs that hold the mock. */
  signedAction(signingSecret: string, payload: unknown, timestampSeconds?: number): SignedSlackRequest {
    return signedAction(signingSecret, payload, timestampSeconds);
  }

  /** The next `count` API calls fail at the HTTP level, whatever their method or token. */
  failNext(count: number, failure: SlackFailure): void {
    for (let i = 0; i < count; i++) this.failures.push(failure);
  }

  /**
   * The block_actions payload Slack sends when `user` clicks the button `actionId` of `message`
   * (its current version, after updates), with a `response_url` served by this mock.
   */
  clickPayload(message: SlackMessage, actionId: string, user: { id: string; name: string }, teamId = 'T0HEADROOM'): Record<string, unknown> {
    const shown = this.current(message.ts) ?? message;
    const blocks = (Array.isArray(shown.blocks) ? shown.blocks : []) as { type?: string; block_id?: string; elements?: Record<string, unknown>[] }[];
    for (const block of blocks) {
      const button = block.type === 'actions' ? block.elements?.find((e) => e['action_id'] === actionId) : undefined;
      if (!button) continue;
      const { port } = this.server!.address() as AddressInfo;
      return {
        type: 'block_actions',
        user: { id: user.id, username: user.name, name: user.name, team_id: teamId },
        api_app_id: 'A0HEADROOM',
        team: { id: teamId, domain: 'headroom-test' },
        container: { type: 'message', message_ts: message.ts, channel_id: message.channel, is_ephemeral: false },
        channel: { id: message.channel, name: message.channel.replace(/^#/, '') },
        message: { type: 'message', ts: message.ts, text: shown.text, blocks: shown.blocks },
        response_url: `http://127.0.0.1:${port}/actions/${teamId}/${message.ts}`,
        trigger_id: `${Date.now()}.trigger`,
        actions: [{ type: 'button', action_id: actionId, block_id: block.block_id, text: button['text'], value: button['value'], action_ts: String(Date.now() / 1000) }],
      };
    }
    throw new Error(`message ${message.ts} has no button ${actionId}`);
  }

  private async handle(req: IncomingMessage): Promise<{ status: number; body: object; headers?: Record<string, string> }> {
    const raw = await new Promise<string>((resolve) => {
      let data = '';
      req.on('data', (c) => (data += c));
      req.on('end', () => resolve(data));
    });
    const type = req.headers['content-type'] ?? '';
    const params: Record<string, unknown> = type.includes('application/json')
      ? (JSON.parse(raw || '{}') as Record<string, unknown>)
      : Object.fromEntries(new URLSearchParams(raw));
    if ((req.url ?? '').startsWith('/actions/')) {
      this.responses.push({ path: req.url ?? '', body: params });
      return { status: 200, body: { ok: true } };
    }
    const failure = this.failures.shift();
    if (failure?.status === 429) {
      return { status: 429, body: { ok: false, error: 'ratelimited' }, headers: failure.retryAfterSeconds === undefined ? {} : { 'retry-after': String(failure.retryAfterSeconds) } };
    }
    if (failure) return { status: failure.status, body: { ok: false, error: 'service_unavailable' } };
    const auth = req.headers['authorization'];
    const token = typeof auth === 'string' ? auth.replace(/^Bearer /, '') : (params['token'] as string | undefined);
    if (token === undefined || !this.validTokens.has(token)) return { status: 200, body: { ok: false, error: 'invalid_auth' } };
    const method = (req.url ?? '').replace(/^\/api\//, '').split('?')[0];
    if (method === 'auth.test') return { status: 200, body: { ok: true, team: 'headroom-test', user: 'headroom' } };
    if (method !== 'chat.postMessage' && method !== 'chat.update') return { status: 200, body: { ok: false, error: 'unknown_method' } };
    const channel = String(params['channel'] ?? '');
    if (!channel) return { status: 200, body: { ok: false, error: 'channel_not_found' } };
    if (this.channels.size > 0 && !this.channels.has(channel)) return { status: 200, body: { ok: false, error: 'channel_not_found' } };
    if (this.archived.has(channel)) return { status: 200, body: { ok: false, error: 'is_archived' } };
    const text = String(params['text'] ?? '');
    let blocks: unknown = params['blocks'];
    if (typeof blocks === 'string') blocks = JSON.parse(blocks);
    if (method === 'chat.update') {
      const ts = String(params['ts'] ?? '');
      if (!this.messages.some((m) => m.ts === ts && m.channel === channel)) return { status: 200, body: { ok: false, error: 'message_not_found' } };
      this.updates.push({ channel, ts, text, blocks, receivedAt: Date.now(), token });
      return { status: 200, body: { ok: true, channel, ts, text, message: { text, blocks } } };
    }
    const ts = `${Math.floor(Date.now() / 1000)}.${String(++this.seq).padStart(6, '0')}`;
    const threadTs = params['thread_ts'] === undefined ? undefined : String(params['thread_ts']);
    const replyBroadcast = params['reply_broadcast'] === undefined ? undefined : String(params['reply_broadcast']) === 'true';
    this.messages.push({ channel, text, blocks, receivedAt: Date.now(), token, ts, ...(threadTs ? { threadTs, replyBroadcast } : {}) });
    return { status: 200, body: { ok: true, channel, ts, message: { text, ts, ...(threadTs ? { thread_ts: threadTs } : {}) } } };
  }
}

/**
 * A block_actions request as Slack POSTs it to an app's interactivity URL: the payload form-encoded,
 * signed with the app's signing secret (`v0=` HMAC-SHA256 of `v0:{timestamp}:{body}`).
 */
export function signedAction(signingSecret: string, payload: unknown, timestampSeconds = Math.floor(Date.now() / 1000)): SignedSlackRequest {
  const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
  const timestamp = String(timestampSeconds);
  const signature = `v0=${createHmac('sha256', signingSecret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
  return { body, headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': timestamp, 'x-slack-signature': signature } };
}
