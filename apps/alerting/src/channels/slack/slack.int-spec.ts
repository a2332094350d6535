import { signedAction, SlackMock } from '@headroom/testing';
import { RetryableSendError, type GroupNotification } from '../channel';
import { parseAckAction, verifySlackRequest } from './interactivity';
import { slackChannel, type SlackTarget } from './slack.channel';

const TOKEN = 'xoxb-headroom-int-0123456789';
const OTHER_TENANT_TOKEN = 'xoxb-other-workspace-987654';
const HOSTILE = '<!channel> <https://evil.example|click>';
const SIGNING_SECRET = 'int-signing-secret';

function notification(over: Partial<GroupNotification> = {}): GroupNotification {
  const now = Date.now();
  return {
    id: `n-${now}`,
    tenant: 'label-a',
    receiver: 'oncall',
    groupKey: 'route-1:{endpoint="/search"}',
    status: 'firing',
    reason: 'firing',
    groupLabels: { endpoint: '/search', note: HOSTILE },
    commonLabels: { alertname: 'HighLatency' },
    commonAnnotations: { runbook_url: 'https://runbooks.example/latency' },
    alerts: [{ fingerprint: 'f1', status: 'firing', labels: { alertname: 'HighLatency' }, annotations: { summary: `p95 above 250 ms ${HOSTILE}` }, value: 1234.5, startsAt: now - 65 * 60_000 }],
    locale: 'fr',
    createdAt: now,
    ...over,
  };
}

describe('Slack channel against SlackMock (real @slack/web-api client)', () => {
  const slack = new SlackMock(TOKEN);
  let sender: ReturnType<typeof slackChannel.create>;
  const target: SlackTarget = { channel: '#ops', bot_token: TOKEN };

  beforeAll(async () => {
    await slack.start();
    slack.validTokens.add(OTHER_TENANT_TOKEN);
    sender = slackChannel.create({ ...slackChannel.defaultConfig(), apiUrl: slack.url(), timeoutMs: 5_000, signingSecret: SIGNING_SECRET });
  });
  afterAll(() => slack.stop());

  it('posts the parent, then replies in its thread and updates it to the latest status', async () => {
    const first = await sender.send(notification(), target);
    expect(first).toMatchObject({ outcome: 'sent', thread: { channel: '#ops' } });
    const thread = (first as { thread: Record<string, string> }).thread;
    const parent = slack.messages.find((m) => m.ts === thread['ts'])!;
    expect(parent.threadTs).toBeUndefined();
    expect(parent.token).toBe(TOKEN);

    const resolved = notification({
      status: 'resolved',
      reason: 'resolved',
      thread,
      alerts: [{ ...notification().alerts[0]!, status: 'resolved', endsAt: Date.now() }],
    });
    expect(await sender.send(resolved, target)).toEqual({ outcome: 'sent', thread });
    const replies = slack.repliesTo(thread['ts']!);
    expect(replies).toHaveLength(1);
    expect(replies[0]!.text).toMatch(/^\[RÉSOLU\] HighLatency/);
    const now = slack.current(thread['ts']!)!;
    expect(JSON.stringify(now.blocks)).toContain('[RÉSOLU] HighLatency');
    expect(JSON.stringify(now.blocks)).not.toContain('headroom_ack');
  });

  it('keeps hostile labels inert in the recorded blocks and text', async () => {
    await sender.send(notification({ groupKey: 'hostile-group' }), target);
    const recorded = slack.messages.at(-1)!;
    const json = JSON.stringify({ text: recorded.text, blocks: recorded.blocks });
    expect(json).not.toContain('<!channel>');
    expect(json).not.toContain('<https://evil.example|click>');
    expect(json).toContain('&lt;!channel&gt; &lt;https://evil.example|click&gt;');
    expect(recorded.text).toContain(`note=&lt;!channel&gt;`);
  });

  it('a click on Acknowledge reaches Headroom signed and carrying the tenant and group', async () => {
    await sender.send(notification({ groupKey: 'ack-me' }), target);
    const message = slack.messages.at(-1)!;
    const request = signedAction(SIGNING_SECRET, slack.clickPayload(message, 'headroom_ack', { id: 'U0MARIE', name: 'marie' }, 'T0LABELA'));
    expect(
      verifySlackRequest({ signingSecret: SIGNING_SECRET, timestamp: request.headers['x-slack-request-timestamp'], rawBody: request.body, signature: request.headers['x-slack-signature'] }),
    ).toEqual({ ok: true });
    expect(parseAckAction(request.body)).toMatchObject({ ok: true, action: { tenant: 'label-a', groupKey: 'ack-me', user: { id: 'U0MARIE', name: 'marie' }, teamId: 'T0LABELA' } });
  });

  it('HTTP 429 with Retry-After becomes a RetryableSendError carrying retryAfterMs', async () => {
    slack.failNext(1, { status: 429, retryAfterSeconds: 3 });
    const err = await sender.send(notification(), target).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetryableSendError);
    expect(err).toMatchObject({ status: 429, retryAfterMs: 3000 });
  });

  it('HTTP 503 is retryable, and no error or message carries the bot token', async () => {
    slack.failNext(1, { status: 503 });
    const err = (await sender.send(notification(), target).catch((e: unknown) => e)) as RetryableSendError;
    expect(err).toBeInstanceOf(RetryableSendError);
    expect(err.status).toBe(503);
    expect(`${err.message} ${err.stack} ${JSON.stringify(err)}`).not.toContain(TOKEN);
  });

  it('a network failure is retryable without leaking the token', async () => {
    const down = slackChannel.create({ ...slackChannel.defaultConfig(), apiUrl: 'http://127.0.0.1:9/api/', timeoutMs: 2_000 });
    const err = (await down.send(notification(), target).catch((e: unknown) => e)) as RetryableSendError;
    expect(err).toBeInstanceOf(RetryableSendError);
    expect(err.message).toMatch(/^slack: request failed/);
    expect(`${err.message} ${JSON.stringify(err)}`).not.toContain(TOKEN);
  });

  it('rejects an unknown channel, an archived one and a token Slack does not know', async () => {
    slack.channels.add('#ops');
    slack.channels.add('#archived');
    slack.archived.add('#archived');
    try {
      expect(await sender.send(notification(), { ...target, channel: '#nope' })).toEqual({ outcome: 'rejected', reason: 'slack: channel_not_found' });
      expect(await sender.send(notification(), { ...target, channel: '#archived' })).toEqual({ outcome: 'rejected', reason: 'slack: is_archived' });
      const revoked = await sender.send(notification(), { ...target, bot_token: 'xoxb-revoked-0000000000' });
      expect(revoked).toEqual({ outcome: 'rejected', reason: 'slack: invalid_auth' });
      expect(JSON.stringify(revoked)).not.toContain('xoxb-revoked');
    } finally {
      slack.channels.clear();
      slack.archived.clear();
    }
  });

  it('posts with each tenant’s own token (one client per workspace)', async () => {
    await sender.send(notification({ tenant: 'label-b' }), { channel: '#ops', bot_token: OTHER_TENANT_TOKEN });
    expect(slack.messages.at(-1)!.token).toBe(OTHER_TENANT_TOKEN);
  });

  it('starts a new thread when Slack no longer knows the parent', async () => {
    const result = await sender.send(notification({ reason: 'updated', thread: { channel: '#ops', ts: '1.000001' } }), target);
    expect(result).toMatchObject({ outcome: 'sent', thread: { channel: '#ops' } });
    expect((result as { thread: Record<string, string> }).thread['ts']).not.toBe('1.000001');
  });
});
