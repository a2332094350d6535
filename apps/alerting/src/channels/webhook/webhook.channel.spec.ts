import { RetryableSendError, type GroupNotification } from '../channel';
import { signWebhook, verifyWebhookSignature, webhookChannel, webhookPayload, WebhookSender, type WebhookTarget } from './webhook.channel';

const SECRET = 'whsec-0123456789abcdef';
const NOW = Date.UTC(2025, 0, 2, 3, 4, 5);

function notification(overrides: Partial<GroupNotification> = {}): GroupNotification {
  return {
    id: 'outbox-42',
    tenant: 'acme',
    receiver: 'ops-hook',
    groupKey: '{}:{alertname="HighLatency"}',
    status: 'firing',
    reason: 'firing',
    groupLabels: { alertname: 'HighLatency' },
    commonLabels: { alertname: 'HighLatency', severity: 'warning' },
    commonAnnotations: {},
    alerts: [
      { fingerprint: 'f1', status: 'firing', labels: { alertname: 'HighLatency', endpoint: '/search' }, annotations: { summary: 'p95 high' }, value: 480, startsAt: NOW - 60_000 },
      { fingerprint: 'f2', status: 'resolved', labels: { alertname: 'HighLatency', endpoint: '/cart' }, annotations: {}, value: 90, startsAt: NOW - 120_000, endsAt: NOW - 5_000 },
    ],
    locale: 'en',
    createdAt: NOW,
    ...overrides,
  };
}

const target: WebhookTarget = { url: 'https://hooks.example.com/headroom?token=abc', secret: SECRET };

/** A fetch double that records the request and answers with `status`. */
function fakeFetch(status: number, body = '', headers: Record<string, string> = {}) {
  const calls: { url: string; init: RequestInit }[] = [];
  const fn = (async (url: string, init: RequestInit) => {
    calls.push({ url, init });
    return new Response(status === 204 ? null : body, { status, headers });
  }) as unknown as typeof fetch;
  return { fn, calls };
}

describe('webhook channel config', () => {
  it('accepts its defaults and lists every problem with its path', () => {
    expect(webhookChannel.validate(webhookChannel.defaultConfig())).toEqual([]);
    expect(webhookChannel.validate({ externalUrl: 'nope', timeoutMs: 1.5, egressAllow: [] })).toEqual([
      { path: 'externalUrl', message: expect.stringContaining('absolute URL') },
      { path: 'timeoutMs', message: expect.stringContaining('positive integer') },
    ]);
    expect(webhookChannel.secretFields).toEqual(['secret']);
  });

  it('takes an http(s) URL without credentials and a secret of 16 characters or more', () => {
    expect(webhookChannel.targetSchema.safeParse(target).success).toBe(true);
    const bad = webhookChannel.targetSchema.safeParse({ url: 'https://user:pw@hooks.example.com/x', secret: 'short', max_alerts: -1, extra: 1 });
    expect(bad.success).toBe(false);
    const issues = bad.error!.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    expect(issues).toEqual(
      expect.arrayContaining([expect.stringMatching(/^url: .*credentials/), expect.stringMatching(/^secret: .*16/), expect.stringMatching(/^max_alerts: /), expect.stringMatching(/extra/)]),
    );
    expect(webhookChannel.targetSchema.safeParse({ url: 'ftp://hooks.example.com/x', secret: SECRET }).success).toBe(false);
  });
});

describe('webhook payload', () => {
  it("is Alertmanager's version 4 body plus a headroom block, with ISO times", () => {
    const body = webhookPayload(notification({ escalationStep: 1, acknowledged: { by: 'ana', at: NOW } }), target, 'https://alerts.example.com');
    expect(body).toEqual({
      version: '4',
      groupKey: '{}:{alertname="HighLatency"}',
      truncatedAlerts: 0,
      status: 'firing',
      receiver: 'ops-hook',
      groupLabels: { alertname: 'HighLatency' },
      commonLabels: { alertname: 'HighLatency', severity: 'warning' },
      commonAnnotations: {},
      externalURL: 'https://alerts.example.com',
      alerts: [
        expect.objectContaining({ status: 'firing', fingerprint: 'f1', startsAt: '2025-01-02T03:03:05.000Z', endsAt: '0001-01-01T00:00:00Z', labels: { alertname: 'HighLatency', endpoint: '/search' } }),
        expect.objectContaining({ status: 'resolved', fingerprint: 'f2', endsAt: '2025-01-02T03:04:00.000Z' }),
      ],
      headroom: { tenant: 'acme', reason: 'firing', escalationStep: 1, acknowledged: { by: 'ana', at: '2025-01-02T03:04:05.000Z' } },
    });
  });

  it('keeps at most max_alerts alerts and counts the rest in truncatedAlerts', () => {
    const body = webhookPayload(notification(), { ...target, max_alerts: 1 }, '') as { alerts: unknown[]; truncatedAlerts: number };
    expect(body.alerts).toHaveLength(1);
    expect(body.truncatedAlerts).toBe(1);
  });
});

describe('webhook signature', () => {
  const body = '{"version":"4"}';
  const ts = Math.floor(NOW / 1000);
  const signature = signWebhook(SECRET, ts, body);

  it('verifies the signed body at its timestamp', () => {
    expect(signature).toMatch(/^v1=[0-9a-f]{64}$/);
    expect(verifyWebhookSignature({ secret: SECRET, timestamp: String(ts), body, signature, now: NOW })).toEqual({ ok: true });
    expect(verifyWebhookSignature({ secret: SECRET, timestamp: String(ts), body: Buffer.from(body), signature, now: NOW })).toEqual({ ok: true });
  });

  it('refuses a changed body, another secret, a stale or future timestamp, and malformed headers', () => {
    const check = (over: Partial<Parameters<typeof verifyWebhookSignature>[0]>) => verifyWebhookSignature({ secret: SECRET, timestamp: String(ts), body, signature, now: NOW, ...over });
    expect(check({ body: '{"version":"5"}' })).toEqual({ ok: false, reason: 'mismatch' });
    expect(check({ secret: 'another-secret-of-16+' })).toEqual({ ok: false, reason: 'mismatch' });
    // The same signed request replayed six minutes later.
    expect(check({ now: NOW + 301_000 })).toEqual({ ok: false, reason: 'stale' });
    expect(check({ now: NOW - 301_000 })).toEqual({ ok: false, reason: 'stale' });
    expect(check({ now: NOW + 299_000 })).toEqual({ ok: true });
    // A timestamp moved forward by an attacker no longer matches the signature.
    expect(check({ timestamp: String(ts + 60), now: NOW + 60_000 })).toEqual({ ok: false, reason: 'mismatch' });
    expect(check({ signature: undefined })).toEqual({ ok: false, reason: 'malformed' });
    expect(check({ signature: 'sha256=abc' })).toEqual({ ok: false, reason: 'malformed' });
    expect(check({ timestamp: '12abc' })).toEqual({ ok: false, reason: 'malformed' });
  });

  it('accepts any one of several v1 values (secret rotation)', () => {
    const old = signWebhook('old-secret-0123456789', ts, body);
    expect(verifyWebhookSignature({ secret: SECRET, timestamp: ts, body, signature: `${old}, ${signature}`, now: NOW })).toEqual({ ok: true });
  });
});

describe('webhook sender', () => {
  const config = { externalUrl: 'https://alerts.example.com', timeoutMs: 1000, egressAllow: [] as string[] };

  it('POSTs the JSON body with a verifiable signature and the notification id as Idempotency-Key', async () => {
    const fetch = fakeFetch(200);
    await expect(new WebhookSender(config, { fetch: fetch.fn, now: () => NOW }).send(notification(), target)).resolves.toEqual({ outcome: 'sent' });
    const [{ url, init }] = fetch.calls as [{ url: string; init: RequestInit }];
    const headers = init.headers as Record<string, string>;
    expect(url).toBe(target.url);
    expect(init.method).toBe('POST');
    expect(headers['content-type']).toBe('application/json');
    expect(headers['Idempotency-Key']).toBe('outbox-42');
    expect(headers['X-Headroom-Timestamp']).toBe(String(Math.floor(NOW / 1000)));
    const check = verifyWebhookSignature({ secret: SECRET, timestamp: headers['X-Headroom-Timestamp'], body: init.body as string, signature: headers['X-Headroom-Signature'], now: NOW });
    expect(check).toEqual({ ok: true });
    expect(JSON.parse(init.body as string)).toMatchObject({ version: '4', headroom: { tenant: 'acme' } });
  });

  it.each([200, 202, 204])('counts %i as sent', async (status) => {
    await expect(new WebhookSender(config, { fetch: fakeFetch(status).fn }).send(notification(), target)).resolves.toEqual({ outcome: 'sent' });
  });

  it.each([408, 429, 500, 503])('retries %i, no sooner than Retry-After', async (status) => {
    const err = await new WebhookSender(config, { fetch: fakeFetch(status, 'busy', { 'retry-after': '7' }).fn }).send(notification(), target).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetryableSendError);
    expect(err).toMatchObject({ status, retryAfterMs: 7000 });
  });

  it.each([400, 401, 404, 410, 301])('rejects %i for good, with what the receiver said', async (status) => {
    await expect(new WebhookSender(config, { fetch: fakeFetch(status, '{"error":"unknown hook"}').fn }).send(notification(), target)).resolves.toEqual({
      outcome: 'rejected',
      reason: `webhook answered ${status}: {"error":"unknown hook"}`,
    });
  });

  it('retries a network failure or a timeout, naming the host but neither the URL query nor the secret', async () => {
    const refused = (async () => {
      throw Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
    }) as unknown as typeof fetch;
    const err = (await new WebhookSender(config, { fetch: refused }).send(notification(), target).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(RetryableSendError);
    expect(err.message).toBe('webhook POST to hooks.example.com failed: ECONNREFUSED');

    const slow = (async (_url: string, init: RequestInit) =>
      new Promise((_resolve, reject) => init.signal!.addEventListener('abort', () => reject(init.signal!.reason)))) as unknown as typeof fetch;
    const timeout = (await new WebhookSender({ ...config, timeoutMs: 20 }, { fetch: slow }).send(notification(), target).catch((e: unknown) => e)) as Error;
    expect(timeout).toBeInstanceOf(RetryableSendError);
    expect(timeout.message).toContain('no answer within 20 ms');
  });

  it('keeps the secret out of the reason even when the receiver echoes it back', async () => {
    const echo = fakeFetch(400, `bad signature for secret ${SECRET}`);
    const result = await new WebhookSender(config, { fetch: echo.fn }).send(notification(), target);
    expect(result).toEqual({ outcome: 'rejected', reason: 'webhook answered 400: bad signature for secret [redacted]' });
    expect(JSON.stringify(result)).not.toContain(SECRET);
  });
});
