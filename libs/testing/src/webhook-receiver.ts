import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The raw bytes as received: signatures are checked over these, never over re-serialised JSON. */
  body: Buffer;
  receivedAt: number;
}

export interface ReceivedDelivery extends ReceivedRequest {
  /** What `verify` said; requests without a verifier count as verified. */
  verified: boolean;
  refusedBecause?: string;
  /** The status this receiver answered. */
  status: number;
}

/**
 * Checks one request the way the user's own receiver would (the spec hands in the channel's
 * exported verifier: a library may not import an app). Refused requests are answered 401.
 */
export type RequestVerifier = (request: ReceivedRequest) => { ok: true } | { ok: false; reason: string };

/**
 * A local HTTP endpoint standing in for a tenant's webhook receiver or an SMS provider: verifies
 * every request, records verified and refused ones, and can be scripted to answer the next requests
 * with an error status (e.g. 429 with Retry-After) before accepting again.
 */
export class WebhookReceiver {
  readonly deliveries: ReceivedDelivery[] = [];
  private server: Server | undefined;
  private script: { status: number; headers?: Record<string, string>; body?: string }[] = [];

  constructor(private readonly options: { verify?: RequestVerifier; path?: string } = {}) {}

  async start(port = 0): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    return this.url();
  }

  url(): string {
    const { port } = this.server!.address() as AddressInfo;
    return `http://127.0.0.1:${port}${this.options.path ?? '/hook'}`;
  }

  /** The next `times` verified requests are answered `status` (and not counted as accepted). */
  answerNext(times: number, status: number, headers?: Record<string, string>, body?: string): void {
    for (let i = 0; i < times; i++) this.script.push({ status, headers, body });
  }

  /** Requests that passed verification and were answered 2xx. */
  accepted(): ReceivedDelivery[] {
    return this.deliveries.filter((d) => d.verified && d.status >= 200 && d.status < 300);
  }

  refused(): ReceivedDelivery[] {
    return this.deliveries.filter((d) => !d.verified);
  }

  /** The body of an accepted request as JSON (or form fields when form-encoded). */
  static parse<T = Record<string, unknown>>(d: ReceivedRequest): T {
    const type = String(d.headers['content-type'] ?? '');
    const text = d.body.toString('utf8');
    return (type.includes('application/x-www-form-urlencoded') ? Object.fromEntries(new URLSearchParams(text)) : JSON.parse(text)) as T;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const request: ReceivedRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks), receivedAt: Date.now() };
    const check = this.options.verify ? this.options.verify(request) : ({ ok: true } as const);
    if (!check.ok) {
      this.deliveries.push({ ...request, verified: false, refusedBecause: check.reason, status: 401 });
      res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: check.reason }));
      return;
    }
    const scripted = this.script.shift();
    const status = scripted?.status ?? 200;
    this.deliveries.push({ ...request, verified: true, status });
    res.writeHead(status, { 'content-type': 'application/json', ...scripted?.headers }).end(scripted?.body ?? JSON.stringify({ ok: status < 300 }));
  }
}
