import { WebhookReceiver, type ReceivedRequest } from '@headroom/testing';
import { RetryableSendError, type GroupNotification } from '../channel';
import { verifyWebhookSignature, webhookChannel, WebhookSender } from './webhook.channel';

const SECRET = 'int-spec-secret-0123456789';

/** What a tenant's receiver runs: the exported verifier over the raw body and the two headers. */
function verify(request: ReceivedRequest) {
  return verifyWebhookSignature({
    secret: SECRET,
    timestamp: request.headers['x-headroom-timestamp'] as string | undefined,
    signature: request.headers['x-headroom-signature'] as string | undefined,
    body: request.body,
  });
}

function notification(id: string): GroupNotification {
  const now = Date.now();
  return {
    id,
    tenant: 'acme',
    receiver: 'ops-hook',
    groupKey: '{}:{alertname="DiskFull"}',
    status: 'firing',
    reason: 'firing',
    groupLabels: { alertname: 'DiskFull' },
    commonLabels: { alertname: 'DiskFull', severity: 'critical' },
    commonAnnotations: { summary: '<b>disk</b> "full"' },
    alerts: [{ fingerprint: 'f1', status: 'firing', labels: { alertname: 'DiskFull', host: 'db-1' }, annotations: {}, value: 0.97, startsAt: now - 60_000 }],
    locale: 'en',
    createdAt: now,
  };
}

describe('webhook channel against a receiver that verifies signatures', () => {
  const receiver = new WebhookReceiver({ verify });
  let url: string;
  const sender = () => webhookChannel.create({ externalUrl: 'https://alerts.example.com', timeoutMs: 2000, egressAllow: ['127.0.0.0/8'] });

  beforeAll(async () => {
    url = await receiver.start();
  });
  afterAll(() => receiver.stop());

  it('delivers a signed Alertmanager-shaped body that the receiver verifies', async () => {
    await expect(sender().send(notification('n-1'), { url, secret: SECRET })).resolves.toEqual({ outcome: 'sent' });
    const delivery = receiver.deliveries.at(-1)!;
    expect(delivery).toMatchObject({ verified: true, status: 200 });
    expect(delivery.headers['idempotency-key']).toBe('n-1');
    const body = WebhookReceiver.parse<{ version: string; status: string; commonAnnotations: Record<string, string>; headroom: { tenant: string } }>(delivery);
    expect(body).toMatchObject({ version: '4', status: 'firing', headroom: { tenant: 'acme' } });
    expect(body.commonAnnotations['summary']).toBe('<b>disk</b> "full"');
  });

  it('refuses a body changed in transit (signature kept)', async () => {
    await sender().send(notification('n-2'), { url, secret: SECRET });
    const original = receiver.deliveries.at(-1)!;
    const tampered = original.body.toString('utf8').replace('"status":"firing"', '"status":"resolved"');
    expect(tampered).not.toBe(original.body.toString('utf8'));
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-headroom-timestamp': original.headers['x-headroom-timestamp'] as string,
        'x-headroom-signature': original.headers['x-headroom-signature'] as string,
      },
      body: tampered,
    });
    expect(res.status).toBe(401);
    expect(receiver.deliveries.at(-1)).toMatchObject({ verified: false, refusedBecause: 'mismatch' });
  });

  it('refuses a request signed ten minutes ago (a replay), and the sender reports the refusal as final', async () => {
    const replaying = new WebhookSender({ externalUrl: '', timeoutMs: 2000, egressAllow: ['127.0.0.0/8'] }, { now: () => Date.now() - 600_000 });
    const result = await replaying.send(notification('n-3'), { url, secret: SECRET });
    expect(result).toEqual({ outcome: 'rejected', reason: expect.stringContaining('webhook answered 401') });
    expect(receiver.deliveries.at(-1)).toMatchObject({ verified: false, refusedBecause: 'stale' });
    expect(JSON.stringify(result)).not.toContain(SECRET);
  });

  it('retries after a 429 no sooner than its Retry-After, then delivers the same notification', async () => {
    receiver.answerNext(1, 429, { 'retry-after': '2' });
    const err = await sender().send(notification('n-4'), { url, secret: SECRET }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetryableSendError);
    expect(err).toMatchObject({ status: 429, retryAfterMs: 2000 });
    await expect(sender().send(notification('n-4'), { url, secret: SECRET })).resolves.toEqual({ outcome: 'sent' });
    const attempts = receiver.deliveries.filter((d) => d.headers['idempotency-key'] === 'n-4');
    expect(attempts.map((d) => d.status)).toEqual([429, 200]);
    expect(attempts.every((d) => d.verified)).toBe(true);
  });

  it('retries when nothing listens, without the URL path or the secret in the error', async () => {
    const closed = new WebhookReceiver();
    const closedUrl = await closed.start();
    await closed.stop();
    const err = (await sender().send(notification('n-5'), { url: `${closedUrl}?token=s3cr3t-in-query`, secret: SECRET }).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(RetryableSendError);
    expect(err.message).toMatch(/^webhook POST to 127\.0\.0\.1:\d+ failed: ECONNREFUSED$/);
  });
});
