import { RetryableSendError, type GroupNotification } from '../channel';
import { smsChannel, SmsSender, smsText, type SmsTarget } from './sms.channel';

const TOKEN = 'sms-token-abcdef123456';
const target: SmsTarget = { url: 'https://sms.example.com/v1/messages', to: ['+33612345678', '+14155550100'], token: TOKEN };
const NOW = Date.UTC(2025, 0, 2, 3, 4, 5);

function notification(overrides: Partial<GroupNotification> = {}): GroupNotification {
  return {
    id: 'outbox-3',
    tenant: 'acme',
    receiver: 'pager-sms',
    groupKey: 'g1',
    status: 'firing',
    reason: 'firing',
    groupLabels: { alertname: 'HighLatency' },
    commonLabels: { alertname: 'HighLatency' },
    commonAnnotations: {},
    alerts: [{ fingerprint: 'f1', status: 'firing', labels: { alertname: 'HighLatency' }, annotations: {}, value: 480, startsAt: NOW - 60_000 }],
    locale: 'en',
    createdAt: NOW,
    ...overrides,
  };
}

function fakeFetch(statuses: number[], headers: Record<string, string> = {}) {
  const calls: { url: string; init: RequestInit }[] = [];
  const fn = (async (url: string, init: RequestInit) => {
    calls.push({ url, init });
    return new Response(`{"error":"code ${statuses[calls.length - 1]}"}`, { status: statuses[calls.length - 1] ?? 200, headers });
  }) as unknown as typeof fetch;
  return { fn, calls };
}

describe('sms channel config', () => {
  it('accepts its defaults and lists every problem with its path', () => {
    expect(smsChannel.validate(smsChannel.defaultConfig())).toEqual([]);
    expect(smsChannel.validate({ timeoutMs: 0, egressAllow: ['10.0.0.0/8', '10.0.0.0'] })).toEqual([
      { path: 'timeoutMs', message: expect.stringContaining('positive integer') },
      { path: 'egressAllow.1', message: expect.stringContaining('must be a CIDR') },
    ]);
    expect(smsChannel.secretFields).toEqual(['token']);
  });

  it('takes E.164 numbers only, and a URL without credentials', () => {
    expect(smsChannel.targetSchema.safeParse(target).success).toBe(true);
    const bad = smsChannel.targetSchema.safeParse({ url: 'https://u:p@sms.example.com/', to: ['+33612345678', '0612345678', '+0123', '+1234567890123456'], token: '' });
    expect(bad.error?.issues.map((i) => i.path.join('.'))).toEqual(['url', 'to.1', 'to.2', 'to.3', 'token']);
  });
});

describe('sms text', () => {
  it('keeps short text as is and cuts long text at 160 characters with an ellipsis', () => {
    expect(smsText('[FIRING] HighLatency')).toBe('[FIRING] HighLatency');
    const long = smsText('x'.repeat(300));
    expect(Array.from(long)).toHaveLength(160);
    expect(long.endsWith('x…')).toBe(true);
    expect(smsText('y'.repeat(160))).toBe('y'.repeat(160));
  });

  it('counts characters, not UTF-16 units, and never splits a surrogate pair or an emoji', () => {
    const emoji = '🔥'.repeat(200);
    const cut = smsText(emoji);
    expect(Array.from(cut)).toHaveLength(160);
    expect(cut).toBe(`${'🔥'.repeat(159)}…`);
    expect(cut).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/);
    // A family emoji (7 code points) straddling the cut goes whole or not at all.
    const family = '👨‍👩‍👧‍👦';
    const straddling = smsText(`${'a'.repeat(155)}${family}${'b'.repeat(10)}`);
    expect(straddling).toBe(`${'a'.repeat(155)}…`);
  });

  it('puts tenant text on one line', () => {
    expect(smsText('DiskFull (host=db-1\r\nCall +1 555 0100 now)')).toBe('DiskFull (host=db-1 Call +1 555 0100 now)');
  });
});

describe('sms sender', () => {
  const config = { timeoutMs: 1000, egressAllow: [] as string[] };

  it('POSTs one form per number with the rendered short text, bearer token and a per-number Idempotency-Key', async () => {
    const fetch = fakeFetch([200, 201]);
    await expect(new SmsSender(config, { fetch: fetch.fn }).send(notification(), target)).resolves.toEqual({ outcome: 'sent' });
    expect(fetch.calls).toHaveLength(2);
    const [first] = fetch.calls;
    const headers = first!.init.headers as Record<string, string>;
    expect(headers['authorization']).toBe(`Bearer ${TOKEN}`);
    expect(headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(headers['Idempotency-Key']).toBe('outbox-3:+33612345678');
    const form = Object.fromEntries(new URLSearchParams(first!.init.body as string));
    expect(form).toEqual({ to: '+33612345678', body: expect.stringContaining('HighLatency'), reference: 'outbox-3' });
  });

  it('retries a 429, no sooner than Retry-After', async () => {
    const err = await new SmsSender(config, { fetch: fakeFetch([429], { 'retry-after': '4' }).fn }).send(notification(), target).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetryableSendError);
    expect(err).toMatchObject({ status: 429, retryAfterMs: 4000 });
  });

  it('rejects when the provider refuses a number, naming it only by its last digits, never the token', async () => {
    const result = await new SmsSender(config, { fetch: fakeFetch([200, 400]).fn }).send(notification(), target);
    expect(result).toEqual({ outcome: 'rejected', reason: expect.stringContaining('refused for 1 of 2 numbers (…0100: sms provider answered 400') });
    expect(JSON.stringify(result)).not.toContain('+14155550100');
    expect(JSON.stringify(result)).not.toContain(TOKEN);
  });
});
