import { createHmac } from 'node:crypto';
import { parseAckAction, verifySlackRequest } from './interactivity';

// Slack's documented example request (api.slack.com/authentication/verifying-requests-from-slack).
const DOC_SECRET = '8f742231b10e8888abcd99yyyzzz85a5';
const DOC_TIMESTAMP = '1531420618';
const DOC_BODY =
  'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c';
const DOC_SIGNATURE = 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503';

const SECRET = 'test-signing-secret';
const NOW = 1_700_000_000_000;
const sign = (body: string, ts: string, secret = SECRET) => `v0=${createHmac('sha256', secret).update(`v0:${ts}:${body}`).digest('hex')}`;
const ackBody = (value: unknown, extra: Record<string, unknown> = {}) =>
  new URLSearchParams({
    payload: JSON.stringify({
      type: 'block_actions',
      user: { id: 'U024BE7LH', username: 'marie', name: 'marie', team_id: 'T0001' },
      team: { id: 'T0001', domain: 'label-a' },
      response_url: 'https://hooks.slack.com/actions/T0001/1/abc',
      actions: [{ type: 'button', action_id: 'headroom_ack', value: typeof value === 'string' ? value : JSON.stringify(value) }],
      ...extra,
    }),
  }).toString();

describe('verifySlackRequest', () => {
  it('accepts Slack’s documented example', () => {
    expect(verifySlackRequest({ signingSecret: DOC_SECRET, timestamp: DOC_TIMESTAMP, rawBody: DOC_BODY, signature: DOC_SIGNATURE, now: Number(DOC_TIMESTAMP) * 1000 + 10_000 })).toEqual({ ok: true });
  });

  it('accepts a fresh request signed with our secret, as a string or as bytes', () => {
    const ts = String(NOW / 1000 - 30);
    const body = ackBody({ tenant: 'label-a', groupKey: 'g1' });
    expect(verifySlackRequest({ signingSecret: SECRET, timestamp: ts, rawBody: body, signature: sign(body, ts), now: NOW })).toEqual({ ok: true });
    expect(verifySlackRequest({ signingSecret: SECRET, timestamp: ts, rawBody: Buffer.from(body), signature: sign(body, ts), now: NOW })).toEqual({ ok: true });
  });

  it('refuses a wrong signature (another secret)', () => {
    const ts = String(NOW / 1000);
    const body = ackBody({ tenant: 'label-a', groupKey: 'g1' });
    expect(verifySlackRequest({ signingSecret: SECRET, timestamp: ts, rawBody: body, signature: sign(body, ts, 'other-secret'), now: NOW })).toEqual({ ok: false, reason: 'signature mismatch' });
  });

  it('refuses a tampered body (another tenant put in the value)', () => {
    const ts = String(NOW / 1000);
    const signed = ackBody({ tenant: 'label-a', groupKey: 'g1' });
    const tampered = ackBody({ tenant: 'label-b', groupKey: 'g1' });
    expect(verifySlackRequest({ signingSecret: SECRET, timestamp: ts, rawBody: tampered, signature: sign(signed, ts), now: NOW })).toEqual({ ok: false, reason: 'signature mismatch' });
  });

  it('refuses a stale timestamp (replay) and one too far in the future, even when correctly signed', () => {
    const body = ackBody({ tenant: 'label-a', groupKey: 'g1' });
    const old = String(NOW / 1000 - 301);
    expect(verifySlackRequest({ signingSecret: SECRET, timestamp: old, rawBody: body, signature: sign(body, old), now: NOW })).toMatchObject({ ok: false, reason: expect.stringMatching(/^stale/) });
    const future = String(NOW / 1000 + 301);
    expect(verifySlackRequest({ signingSecret: SECRET, timestamp: future, rawBody: body, signature: sign(body, future), now: NOW })).toMatchObject({ ok: false });
    const edge = String(NOW / 1000 - 300);
    expect(verifySlackRequest({ signingSecret: SECRET, timestamp: edge, rawBody: body, signature: sign(body, edge), now: NOW })).toEqual({ ok: true });
  });

  it('refuses missing or malformed headers and an unset secret', () => {
    const ts = String(NOW / 1000);
    const body = 'payload=%7B%7D';
    expect(verifySlackRequest({ signingSecret: SECRET, timestamp: undefined, rawBody: body, signature: sign(body, ts), now: NOW }).ok).toBe(false);
    expect(verifySlackRequest({ signingSecret: SECRET, timestamp: ts, rawBody: body, signature: undefined, now: NOW }).ok).toBe(false);
    expect(verifySlackRequest({ signingSecret: SECRET, timestamp: ts, rawBody: body, signature: sign(body, ts).slice(0, 40), now: NOW }).ok).toBe(false);
    expect(verifySlackRequest({ signingSecret: '', timestamp: ts, rawBody: body, signature: sign(body, ts, ''), now: NOW }).ok).toBe(false);
  });
});

describe('parseAckAction', () => {
  it('reads tenant, group, user, workspace and response URL from an Acknowledge click', () => {
    expect(parseAckAction(ackBody({ tenant: 'label-a', groupKey: 'route-1:{endpoint="/search"}' }))).toEqual({
      ok: true,
      action: {
        tenant: 'label-a',
        groupKey: 'route-1:{endpoint="/search"}',
        user: { id: 'U024BE7LH', name: 'marie' },
        teamId: 'T0001',
        responseUrl: 'https://hooks.slack.com/actions/T0001/1/abc',
      },
    });
  });

  it.each([
    ['no payload field', 'foo=bar', 'no payload form field'],
    ['a payload that is not JSON', 'payload=%7Bnope', 'payload is not JSON'],
    ['another interaction type', new URLSearchParams({ payload: JSON.stringify({ type: 'view_submission' }) }).toString(), 'not a block_actions payload (type "view_submission")'],
    ['a click on another button', ackBody('x', { actions: [{ action_id: 'headroom_runbook' }] }), 'no headroom_ack action in the payload'],
    ['a value without a tenant', ackBody({ groupKey: 'g1' }), 'headroom_ack value is not {"tenant","groupKey"} JSON'],
    ['a value that is not JSON', ackBody('label-a/g1'), 'headroom_ack value is not {"tenant","groupKey"} JSON'],
  ])('refuses %s with a clear error', (_name, body, error) => {
    expect(parseAckAction(body)).toEqual({ ok: false, error });
  });
});
