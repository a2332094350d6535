import { ErrorCode } from '@slack/web-api';
import { RetryableSendError, type AlertInstance, type GroupNotification } from '../channel';
import { parseAckAction } from './interactivity';
import { slackChannel, SlackSender, type SlackApi, type SlackTarget } from './slack.channel';

const TOKEN = 'xoxb-1111-2222-secretsecret';
const T0 = Date.UTC(2025, 2, 5, 14, 3);
const HOSTILE = '<!channel> <https://evil.example|click>';

function alert(over: Partial<AlertInstance> = {}): AlertInstance {
  return { fingerprint: 'f1', status: 'firing', labels: { alertname: 'HighLatency' }, annotations: { summary: 'p95 above 250 ms' }, value: 312, startsAt: T0, ...over };
}

function notification(over: Partial<GroupNotification> = {}): GroupNotification {
  return {
    id: 'n1',
    tenant: 'label-a',
    receiver: 'oncall',
    groupKey: 'route-1:{endpoint="/search"}',
    status: 'firing',
    reason: 'firing',
    groupLabels: { endpoint: '/search' },
    commonLabels: { alertname: 'HighLatency' },
    commonAnnotations: {},
    alerts: [alert()],
    locale: 'en',
    createdAt: T0 + 5 * 60_000,
    ...over,
  };
}

const target: SlackTarget = { channel: '#ops', bot_token: TOKEN };

type Call = { method: 'postMessage' | 'update'; args: Record<string, unknown> };

/** Records what the sender asks of Slack; answers as scripted, else like Slack would. */
function fakeSlack(script: { postMessage?: () => unknown; update?: () => unknown } = {}) {
  const calls: Call[] = [];
  let seq = 0;
  const api: SlackApi = {
    chat: {
      postMessage: async (args) => {
        calls.push({ method: 'postMessage', args: args as unknown as Record<string, unknown> });
        if (script.postMessage) throw script.postMessage();
        return { ok: true, channel: 'C0OPS12345', ts: `1700000000.00000${++seq}` };
      },
      update: async (args) => {
        calls.push({ method: 'update', args: args as unknown as Record<string, unknown> });
        if (script.update) throw script.update();
        return { ok: true };
      },
    },
  };
  return { api, calls };
}

const senderWith = (api: SlackApi) => new SlackSender(slackChannel.defaultConfig(), () => api);

function slackError(code: ErrorCode, fields: Record<string, unknown>, message = 'An API error occurred'): Error {
  return Object.assign(new Error(message), { code, ...fields });
}
const platform = (error: string, extra: Record<string, unknown> = {}) => slackError(ErrorCode.PlatformError, { data: { ok: false, error, ...extra } });

describe('Slack message', () => {
  it('sends hostile label and annotation values inert: escaped, in plain_text only, fallback text without markup (exact JSON)', async () => {
    const { api, calls } = fakeSlack();
    const n = notification({
      groupLabels: { endpoint: HOSTILE },
      commonLabels: { alertname: 'HighLatency' },
      alerts: [alert({ annotations: { summary: '<@U024BE7LH> *urgent* <!here> & run' } })],
    });
    await senderWith(api).send(n, target);
    expect(calls).toHaveLength(1);
    const json = JSON.stringify(calls[0]!.args);
    for (const live of ['<!channel>', '<!here>', '<@U024BE7LH>', '<https://evil.example|click>']) expect(json).not.toContain(live);
    const inert = '&lt;!channel&gt; &lt;https://evil.example|click&gt;';
    expect(calls[0]!.args).toEqual({
      channel: '#ops',
      text: `[FIRING] HighLatency (endpoint=${inert}) — 1 alert firing`,
      mrkdwn: false,
      link_names: false,
      parse: 'none',
      unfurl_links: false,
      unfurl_media: false,
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: `[FIRING] HighLatency (endpoint=${inert}) — 1 alert firing` } },
        {
          type: 'section',
          text: { type: 'plain_text', text: '&lt;@U024BE7LH&gt; *urgent* &lt;!here&gt; &amp; run\nValue: 312\nSince Mar 5, 2025, 02:03 PM UTC\nFiring for 5 min' },
        },
        { type: 'context', elements: [{ type: 'plain_text', text: 'Tenant: label-a' }, { type: 'plain_text', text: `endpoint=${inert}` }] },
        {
          type: 'actions',
          block_id: 'headroom_actions',
          elements: [
            {
              type: 'button',
              action_id: 'headroom_ack',
              text: { type: 'plain_text', text: 'Acknowledge' },
              value: JSON.stringify({ tenant: 'label-a', groupKey: 'route-1:{endpoint="/search"}' }),
              style: 'primary',
            },
          ],
        },
      ],
    });
  });

  it('neutralises bare @channel too, and keeps mrkdwn out of every text object', async () => {
    const { api, calls } = fakeSlack();
    await senderWith(api).send(notification({ alerts: [alert({ annotations: { summary: 'ping @channel and @here' } })] }), target);
    const json = JSON.stringify(calls[0]!.args);
    expect(json).not.toMatch(/@(channel|here)/);
    expect(json).not.toContain('"type":"mrkdwn"');
  });

  it('carries tenant and group key in the Acknowledge button, which the interactivity parser reads back', async () => {
    const { api, calls } = fakeSlack();
    await senderWith(api).send(notification(), target);
    const blocks = calls[0]!.args['blocks'] as { type: string; elements?: { action_id: string; value?: string }[] }[];
    const button = blocks.find((b) => b.type === 'actions')!.elements!.find((e) => e.action_id === 'headroom_ack')!;
    const payload = { type: 'block_actions', user: { id: 'U1', name: 'marie' }, team: { id: 'T1' }, actions: [{ action_id: 'headroom_ack', value: button.value }] };
    expect(parseAckAction(`payload=${encodeURIComponent(JSON.stringify(payload))}`)).toEqual({
      ok: true,
      action: { tenant: 'label-a', groupKey: 'route-1:{endpoint="/search"}', user: { id: 'U1', name: 'marie' }, teamId: 'T1', responseUrl: undefined },
    });
  });

  it('links an http(s) runbook and drops any other scheme', async () => {
    const buttons = async (runbook: string) => {
      const { api, calls } = fakeSlack();
      await senderWith(api).send(notification({ commonAnnotations: { runbook_url: runbook } }), target);
      const blocks = calls[0]!.args['blocks'] as { type: string; elements?: { action_id: string; url?: string }[] }[];
      return blocks.find((b) => b.type === 'actions')!.elements!.map((e) => [e.action_id, e.url]);
    };
    expect(await buttons('https://runbooks.example/latency')).toEqual([
      ['headroom_ack', undefined],
      ['headroom_runbook', 'https://runbooks.example/latency'],
    ]);
    expect(await buttons('javascript:alert(1)')).toEqual([['headroom_ack', undefined]]);
    expect(await buttons('slack://open?team=T1')).toEqual([['headroom_ack', undefined]]);
  });

  it('shows ten alerts, then “and N more” in the notification’s language', async () => {
    const { api, calls } = fakeSlack();
    const alerts = Array.from({ length: 13 }, (_, i) => alert({ fingerprint: `f${i}`, annotations: { summary: `alert ${i}` } }));
    await senderWith(api).send(notification({ alerts, locale: 'fr-CA' }), target);
    const blocks = calls[0]!.args['blocks'] as { type: string; text?: { text: string }; elements?: { text: string }[] }[];
    expect(blocks.filter((b) => b.type === 'section')).toHaveLength(10);
    expect(blocks.flatMap((b) => b.elements ?? []).map((e) => e.text)).toContain('… et 3 autres alertes');
    expect(blocks[0]!.text!.text).toBe('[ALERTE] HighLatency (endpoint=/search) — 13 alertes actives');
  });

  it('has no Acknowledge button once acknowledged or resolved', async () => {
    for (const over of [{ reason: 'acknowledged' as const, acknowledged: { by: 'marie', at: T0 } }, { status: 'resolved' as const, reason: 'resolved' as const }]) {
      const { api, calls } = fakeSlack();
      await senderWith(api).send(notification(over), target);
      expect(JSON.stringify(calls[0]!.args)).not.toContain('headroom_ack');
    }
  });
});

describe('Slack threads', () => {
  it('posts the parent first and returns it as the thread', async () => {
    const { api, calls } = fakeSlack();
    expect(await senderWith(api).send(notification(), target)).toEqual({ outcome: 'sent', thread: { channel: 'C0OPS12345', ts: '1700000000.000001' } });
    expect(calls.map((c) => c.method)).toEqual(['postMessage']);
    expect(calls[0]!.args['thread_ts']).toBeUndefined();
  });

  it('later messages update the parent to the latest status and reply in its thread; the thread stays the parent', async () => {
    const { api, calls } = fakeSlack();
    const thread = { channel: 'C0OPS12345', ts: '1699999999.000001' };
    const result = await senderWith(api).send(notification({ reason: 'escalation', escalationStep: 0, thread }), target);
    expect(result).toEqual({ outcome: 'sent', thread });
    expect(calls.map((c) => [c.method, c.args['channel'], c.args['ts'] ?? c.args['thread_ts']])).toEqual([
      ['update', 'C0OPS12345', '1699999999.000001'],
      ['postMessage', 'C0OPS12345', '1699999999.000001'],
    ]);
    expect((calls[0]!.args['blocks'] as { text?: { text: string } }[])[0]!.text!.text).toMatch(/^\[ESCALATED\]/);
    expect(calls[1]!.args['text']).toBe('[ESCALATED] HighLatency (endpoint=/search) — 1 alert firing — Not acknowledged in time: escalated to step 1');
    expect(calls[1]!.args['reply_broadcast']).toBe(true);
  });

  it('starts a new thread when the parent was deleted', async () => {
    const { api, calls } = fakeSlack({ update: () => platform('message_not_found') });
    const result = await senderWith(api).send(notification({ reason: 'updated', thread: { channel: 'C0OPS12345', ts: '1.1' } }), target);
    expect(result).toEqual({ outcome: 'sent', thread: { channel: 'C0OPS12345', ts: '1700000000.000001' } });
    expect(calls.map((c) => c.method)).toEqual(['update', 'postMessage']);
    expect(calls[1]!.args['thread_ts']).toBeUndefined();
  });
});

describe('Slack failures', () => {
  it.each(['channel_not_found', 'not_in_channel', 'is_archived', 'invalid_auth', 'token_revoked', 'account_inactive', 'missing_scope', 'msg_too_long', 'invalid_blocks'])(
    '%s is rejected with the error',
    async (error) => {
      const { api } = fakeSlack({ postMessage: () => platform(error) });
      expect(await senderWith(api).send(notification(), target)).toEqual({ outcome: 'rejected', reason: `slack: ${error}` });
    },
  );

  it('HTTP 429 is retryable no sooner than Retry-After', async () => {
    const { api } = fakeSlack({ postMessage: () => slackError(ErrorCode.RateLimitedError, { retryAfter: 7 }) });
    const err = await senderWith(api).send(notification(), target).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetryableSendError);
    expect(err).toMatchObject({ retryAfterMs: 7000, status: 429 });
  });

  it.each([
    ['HTTP 503', slackError(ErrorCode.HTTPError, { statusCode: 503, headers: { 'retry-after': '2' } }), 503, 2000],
    ['HTTP 502 without Retry-After', slackError(ErrorCode.HTTPError, { statusCode: 502, headers: {} }), 502, undefined],
    ['a timeout', slackError(ErrorCode.RequestError, {}, 'A request error occurred: timeout of 10000ms exceeded'), undefined, undefined],
    ['internal_error', platform('internal_error'), undefined, undefined],
  ])('%s is retryable', async (_name, error, status, retryAfter) => {
    const { api } = fakeSlack({ postMessage: () => error });
    const err = await senderWith(api).send(notification(), target).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetryableSendError);
    expect(err).toMatchObject({ status, retryAfterMs: retryAfter });
  });

  it('HTTP 400 is rejected', async () => {
    const { api } = fakeSlack({ postMessage: () => slackError(ErrorCode.HTTPError, { statusCode: 400, headers: {} }) });
    expect(await senderWith(api).send(notification(), target)).toEqual({ outcome: 'rejected', reason: 'slack: HTTP 400' });
  });

  it('never lets the bot token into an error, even when a library error echoes it', async () => {
    const leaky = slackError(ErrorCode.RequestError, { config: { headers: { Authorization: `Bearer ${TOKEN}` } } }, `A request error occurred: bad header Bearer ${TOKEN}`);
    const { api } = fakeSlack({ postMessage: () => leaky });
    const err = (await senderWith(api).send(notification(), target).catch((e: unknown) => e)) as RetryableSendError;
    expect(err).toBeInstanceOf(RetryableSendError);
    const everything = `${err.message} ${err.stack} ${JSON.stringify(err)} ${JSON.stringify(Object.getOwnPropertyNames(err).map((k) => (err as unknown as Record<string, unknown>)[k]))}`;
    expect(everything).not.toContain('secretsecret');
    expect(err.message).toContain('xox?-[redacted]');
  });
});

describe('Slack channel type', () => {
  it('keeps one client per bot token, at most 1,000', async () => {
    const created: string[] = [];
    const sender = new SlackSender(slackChannel.defaultConfig(), (token) => {
      created.push(token);
      return fakeSlack().api;
    });
    for (let i = 0; i <= 1000; i++) await sender.send(notification(), { channel: '#ops', bot_token: `xoxb-tenant-${String(i).padStart(6, '0')}` });
    await sender.send(notification(), { channel: '#ops', bot_token: 'xoxb-tenant-001000' });
    expect(created).toHaveLength(1001);
    await sender.send(notification(), { channel: '#ops', bot_token: 'xoxb-tenant-000000' });
    expect(created).toHaveLength(1002);
  });

  it('validates the deployment config, listing every problem with its path', () => {
    expect(slackChannel.validate(slackChannel.defaultConfig())).toEqual([]);
    expect(slackChannel.validate({ apiUrl: 'ftp://slack/api', timeoutMs: 0, signingSecret: '' })).toEqual([
      { path: 'apiUrl', message: 'must be an http(s) URL' },
      { path: 'apiUrl', message: 'must end with / (method names are appended to it)' },
      { path: 'timeoutMs', message: 'must be a positive integer (milliseconds)' },
    ]);
  });

  it('accepts a tenant target with a channel id or #name and a bot token, and marks the token secret', () => {
    expect(slackChannel.targetSchema.safeParse({ channel: 'C0123ABCDE', bot_token: TOKEN }).success).toBe(true);
    expect(slackChannel.targetSchema.safeParse({ channel: '#ops-alerts', bot_token: TOKEN, time_zone: 'Europe/Paris' }).success).toBe(true);
    const bad = slackChannel.targetSchema.safeParse({ channel: 'ops alerts', bot_token: 'xoxp-user-token-1234567', time_zone: 'Mars/Olympus' });
    expect(bad.success ? [] : bad.error.issues.map((i) => i.path.join('.')).sort()).toEqual(['bot_token', 'channel', 'time_zone']);
    expect(JSON.stringify(bad)).not.toContain('xoxp-user-token');
    expect(slackChannel.secretFields).toEqual(['bot_token']);
  });
});
