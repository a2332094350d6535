import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SlackMessage {
  channel: string;
  text: string;
  blocks?: unknown;
  receivedAt: number;
  token: string | undefined;
}

/**
 * A local HTTP server speaking the parts of Slack's Web API that Headroom uses (`chat.postMessage`,
 * `auth.test`), so the real `@slack/web-api` client can be pointed at it with `slackApiUrl`.
 * Follows Slack's conventions: form-encoded or JSON bodies, HTTP 200 with `ok: false` and an error
 * code for bad tokens or unknown channels.
 */
export class SlackMock {
  readonly messages: SlackMessage[] = [];
  private server: Server | undefined;
  /** Channels that exist; others get `channel_not_found`. Empty set = accept any. */
  readonly channels = new Set<string>();

  constructor(private readonly validToken: string) {}

  async start(port = 0): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req).then(({ status, body }) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    }));
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
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(req: IncomingMessage): Promise<{ status: number; body: object }> {
    const raw = await new Promise<string>((resolve) => {
      let data = '';
      req.on('data', (c) => (data += c));
      req.on('end', () => resolve(data));
    });
    const type = req.headers['content-type'] ?? '';
    const params: Record<string, unknown> = type.includes('application/json')
      ? (JSON.parse(raw || '{}') as Record<string, unknown>)
      : Object.fromEntries(new URLSearchParams(raw));
    const auth = req.headers['authorization'];
    const token = typeof auth === 'string' ? auth.replace(/^Bearer /, '') : (params['token'] as string | undefined);
    if (token !== this.validToken) return { status: 200, body: { ok: false, error: 'invalid_auth' } };
    const method = (req.url ?? '').replace(/^\/api\//, '').split('?')[0];
    if (method === 'auth.test') return { status: 200, body: { ok: true, team: 'headroom-test', user: 'headroom' } };
    if (method !== 'chat.postMessage') return { status: 200, body: { ok: false, error: 'unknown_method' } };
    const channel = String(params['channel'] ?? '');
    if (!channel) return { status: 200, body: { ok: false, error: 'channel_not_found' } };
    if (this.channels.size > 0 && !this.channels.has(channel)) return { status: 200, body: { ok: false, error: 'channel_not_found' } };
    const text = String(params['text'] ?? '');
    let blocks: unknown = params['blocks'];
    if (typeof blocks === 'string') blocks = JSON.parse(blocks);
    this.messages.push({ channel, text, blocks, receivedAt: Date.now(), token });
    const ts = `${Math.floor(Date.now() / 1000)}.${String(this.messages.length).padStart(6, '0')}`;
    return { status: 200, body: { ok: true, channel, ts, message: { text, ts } } };
  }
}
