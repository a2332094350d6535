import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface PagerDutyEventRecord {
  routing_key: string;
  event_action: 'trigger' | 'acknowledge' | 'resolve';
  dedup_key: string;
  payload?: { summary: string; source: string; severity: string; [key: string]: unknown };
  links?: { href: string; text?: string }[];
  [key: string]: unknown;
}

export type IncidentState = 'triggered' | 'acknowledged' | 'resolved';

/**
 * A local HTTP server speaking PagerDuty's Events API v2 enqueue endpoint
 * (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/): validates the documented
 * fields, answers 202 `{ status, dedup_key, message }` or 400 `{ status, message, errors }`, and keeps
 * each dedup_key's incident state and history so a test can follow one incident.
 */
export class PagerDutyMock {
  /** Every accepted event, in order. */
  readonly events: PagerDutyEventRecord[] = [];
  /** Each dedup_key's sequence of states, e.g. ['triggered', 'resolved']. */
  readonly incidents = new Map<string, IncidentState[]>();
  /** Requests answered 429 or 503 by script (not recorded as events). */
  throttled = 0;
  private server: Server | undefined;
  private script: { status: 429 | 503; retryAfterSeconds?: number }[] = [];

  async start(port = 0): Promise<string> {
    this.server = createServer((req, res) =>
      void this.handle(req).then(({ status, body, headers }) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify(body));
      }),
    );
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    return this.url();
  }

  /** The value for the channel's `apiUrl`. */
  url(): string {
    const { port } = this.server!.address() as AddressInfo;
    return `http://127.0.0.1:${port}/v2/enqueue`;
  }

  /** The next `times` requests get 429 Too Many Requests (with Retry-After when given). */
  throttleNext(times: number, retryAfterSeconds?: number): void {
    for (let i = 0; i < times; i++) this.script.push({ status: 429, retryAfterSeconds });
  }

  /** The next `times` requests get 503, as during a PagerDuty incident of its own. */
  failNext(times: number): void {
    for (let i = 0; i < times; i++) this.script.push({ status: 503 });
  }

  /** The incident's current state, or undefined if no event ever named that dedup_key. */
  incident(dedupKey: string): IncidentState | undefined {
    return this.incidents.get(dedupKey)?.at(-1);
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(req: IncomingMessage): Promise<{ status: number; body: object; headers?: Record<string, string> }> {
    const raw = await new Promise<string>((resolve) => {
      let data = '';
      req.on('data', (c) => (data += c));
      req.on('end', () => resolve(data));
    });
    if (req.method !== 'POST' || (req.url ?? '').split('?')[0] !== '/v2/enqueue') return { status: 404, body: { status: 'not found', message: 'Not Found' } };
    const scripted = this.script.shift();
    if (scripted) {
      this.throttled += 1;
      const headers = scripted.retryAfterSeconds !== undefined ? { 'retry-after': String(scripted.retryAfterSeconds) } : undefined;
      return scripted.status === 429
        ? { status: 429, body: { status: 'throttle event', message: 'Requests for this service are arriving too quickly.' }, headers }
        : { status: 503, body: { status: 'unavailable', message: 'Service Unavailable' } };
    }
    let event: PagerDutyEventRecord;
    try {
      event = JSON.parse(raw) as PagerDutyEventRecord;
    } catch {
      return invalid(['Event object is not valid JSON']);
    }
    const errors = validate(event);
    if (errors.length) return invalid(errors);
    const dedupKey = event.dedup_key ?? `generated-${this.events.length + 1}`;
    const current = this.incident(dedupKey);
    // Acknowledge and resolve only act on an open incident, as PagerDuty's do; a trigger reopens a resolved one as new.
    const next: IncidentState | undefined =
      event.event_action === 'trigger' ? (current === 'acknowledged' ? 'acknowledged' : 'triggered') : current && current !== 'resolved' ? (event.event_action === 'acknowledge' ? 'acknowledged' : 'resolved') : undefined;
    this.events.push({ ...event, dedup_key: dedupKey });
    if (next && next !== current) this.incidents.set(dedupKey, [...(this.incidents.get(dedupKey) ?? []), next]);
    return { status: 202, body: { status: 'success', message: 'Event processed', dedup_key: dedupKey } };
  }
}

function invalid(errors: string[]): { status: number; body: object } {
  return { status: 400, body: { status: 'invalid event', message: 'Event object is invalid', errors } };
}

function validate(event: PagerDutyEventRecord): string[] {
  const errors: string[] = [];
  if (typeof event !== 'object' || event === null) return ['Event object must be a JSON object'];
  if (typeof event.routing_key !== 'string' || event.routing_key.length !== 32) errors.push("Length of 'routing_key' is incorrect (should be 32 characters)");
  if (!['trigger', 'acknowledge', 'resolve'].includes(event.event_action)) errors.push("'event_action' is invalid (must be one of: trigger, acknowledge, resolve)");
  if (event.dedup_key !== undefined && (typeof event.dedup_key !== 'string' || event.dedup_key.length > 255)) errors.push("'dedup_key' must be a string of at most 255 characters");
  if (event.event_action !== 'trigger' && event.event_action !== undefined && typeof event.dedup_key !== 'string') errors.push("'dedup_key' is required for acknowledge and resolve");
  if (event.event_action === 'trigger') {
    const p = event.payload;
    if (typeof p !== 'object' || p === null) errors.push("'payload' is missing or invalid");
    else {
      if (typeof p.summary !== 'string' || p.summary === '' || p.summary.length > 1024) errors.push("'payload.summary' is missing or longer than 1024 characters");
      if (typeof p.source !== 'string' || p.source === '') errors.push("'payload.source' is missing");
      if (!['critical', 'error', 'warning', 'info'].includes(p.severity)) errors.push("'payload.severity' is invalid (must be one of: critical, error, warning, info)");
    }
  }
  return errors;
}
