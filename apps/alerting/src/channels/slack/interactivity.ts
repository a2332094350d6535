import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { ACK_ACTION_ID } from './slack-message';

export interface SlackRequestCheck {
  signingSecret: string;
  /** `X-Slack-Request-Timestamp` (Unix seconds). */
  timestamp: string | undefined;
  /** The body exactly as received: the signature covers its bytes, not a re-serialised form. */
  rawBody: string | Buffer;
  /** `X-Slack-Signature`, `v0=<hex>`. */
  signature: string | undefined;
  /** Current time in ms (injected clock). */
  now?: number;
  toleranceSeconds?: number;
}

export type SlackRequestVerdict = { ok: true } | { ok: false; reason: string };

/**
 * Slack's v0 request signing: `v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{body}` with the app's
 * signing secret. A request older (or further in the future) than the tolerance is refused, so a
 * captured request cannot be replayed later.
 */
export function verifySlackRequest(check: SlackRequestCheck): SlackRequestVerdict {
  const { signingSecret, timestamp, rawBody, signature, now = Date.now(), toleranceSeconds = 300 } = check;
  if (!signingSecret) return { ok: false, reason: 'interactivity is not configured (no signing secret)' };
  if (!timestamp || !/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: 'missing or malformed X-Slack-Request-Timestamp' };
  if (Math.abs(now / 1000 - Number(timestamp)) > toleranceSeconds) return { ok: false, reason: 'stale request: timestamp outside the tolerance' };
  if (!signature || !/^v0=[0-9a-f]{64}$/.test(signature)) return { ok: false, reason: 'missing or malformed X-Slack-Signature' };
  const body = typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : rawBody;
  const expected = createHmac('sha256', signingSecret).update(`v0:${timestamp}:`).update(body).digest();
  const given = Buffer.from(signature.slice(3), 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected) ? { ok: true } : { ok: false, reason: 'signature mismatch' };
}

const ackValueSchema = z.object({ tenant: z.string().min(1), groupKey: z.string().min(1) });

// Only the fields Headroom reads; Slack sends many more.
const blockActionsSchema = z.object({
  type: z.literal('block_actions'),
  user: z.object({ id: z.string(), name: z.string().optional(), username: z.string().optional() }),
  team: z.object({ id: z.string() }).nullable().optional(),
  response_url: z.string().url().optional(),
  actions: z.array(z.object({ action_id: z.string(), value: z.string().optional() })),
});

export interface AckAction {
  /** As carried by the button: check it against the tenant that installed the app in `teamId`. */
  tenant: string;
  groupKey: string;
  user: { id: string; name: string };
  /** The workspace the click came from. */
  teamId: string | undefined;
  responseUrl: string | undefined;
}

export type AckActionParse = { ok: true; action: AckAction } | { ok: false; error: string };

/** Decodes the `payload=` form field of a block_actions request carrying a click on Acknowledge. Verify the signature first. */
export function parseAckAction(rawBody: string | Buffer): AckActionParse {
  const payload = new URLSearchParams(rawBody.toString()).get('payload');
  if (payload === null) return { ok: false, error: 'no payload form field' };
  let json: unknown;
  try {
    json = JSON.parse(payload);
  } catch {
    return { ok: false, error: 'payload is not JSON' };
  }
  const parsed = blockActionsSchema.safeParse(json);
  if (!parsed.success) {
    const type = (json as { type?: unknown } | null)?.type;
    return { ok: false, error: type !== 'block_actions' ? `not a block_actions payload (type ${JSON.stringify(type)})` : `malformed block_actions payload: ${parsed.error.issues[0]?.message}` };
  }
  const click = parsed.data.actions.find((a) => a.action_id === ACK_ACTION_ID);
  if (!click) return { ok: false, error: `no ${ACK_ACTION_ID} action in the payload` };
  let value: z.infer<typeof ackValueSchema>;
  try {
    value = ackValueSchema.parse(JSON.parse(click.value ?? ''));
  } catch {
    return { ok: false, error: `${ACK_ACTION_ID} value is not {"tenant","groupKey"} JSON` };
  }
  const { user, team, response_url } = parsed.data;
  return {
    ok: true,
    action: { tenant: value.tenant, groupKey: value.groupKey, user: { id: user.id, name: user.name ?? user.username ?? user.id }, teamId: team?.id, responseUrl: response_url },
  };
}
