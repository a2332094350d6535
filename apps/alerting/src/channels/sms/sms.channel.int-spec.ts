import { WebhookReceiver, type ReceivedRequest } from '@headroom/testing';
import { RetryableSendError, type GroupNotification } from '../channel';
import { smsChannel, type SmsTarget } from './sms.channel';

const TOKEN = 'provider-token-0123456789';

/** The provider's side: bearer-token auth, as most SMS APIs take it. */
function bearer(request: ReceivedRequest) {
  return request.headers['authorization'] === `Bearer ${TOKEN}` ? ({ ok: true } as const) : ({ ok: false, reason: 'bad token' } as const);
}

function notification(overrides: Partial<GroupNotification> = {}): GroupNotification {
  const now = Date.now();
  // Enough group labels to push the title well past 160 characters.
  const groupLabels = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`label_${i}`, `valeur-${'é'.repeat(5)}-${i}`]));
  return {
    id: 'n-sms',
    tenant: 'acme',
    receiver: 'pager-sms',
    groupKey: 'g-sms',
    status: 'firing',
    reason: 'firing',
    groupLabels: { alertname: 'ErrorRate', ...groupLabels },
    commonLabels: { alertname: 'ErrorRate' },
    commonAnnotations: {},
    alerts: [{ fingerprint: 'f1', status: 'firing', labels: { alertname: 'ErrorRate' }, annotations: {}, value: 0.07, startsAt: now - 60_000 }],
    locale: 'fr',
    createdAt: now,
    ...overrides,
  };
}

describe('sms channel against a provider endpoint', () => {
  const provider = new WebhookReceiver({ verify: bearer, path: '/v1/messages' });
  let target: SmsTarget;
  const sender = smsChannel.create({ timeoutMs: 2000, egressAllow: ['127.0.0.0/8'] });

  beforeAll(async () => {
    target = { url: await provider.start(), to: ['+33612345678', '+4915112345678'], token: TOKEN };
  });
  afterAll(() => provider.stop());

  it('sends the French short text, at most 160 characters, to every number', async () => {
    await expect(sender.send(notification(), target)).resolves.toEqual({ outcome: 'sent' });
    const forms = provider.accepted().map((d) => WebhookReceiver.parse<{ to: string; body: string; reference: string }>(d));
    expect(forms.map((f) => f.to)).toEqual(['+33612345678', '+4915112345678']);
    for (const form of forms) {
      expect(form.body.startsWith('[ALERTE] ErrorRate')).toBe(true);
      expect(Array.from(form.body)).toHaveLength(160);
      expect(form.body.endsWith('…')).toBe(true);
      expect(form.reference).toBe('n-sms');
    }
  });

  it('rejects when the provider refuses the token, without showing it', async () => {
    const result = await sender.send(notification(), { ...target, token: 'revoked-token-000' });
    expect(result).toEqual({ outcome: 'rejected', reason: expect.stringContaining('sms provider answered 401') });
    expect(JSON.stringify(result)).not.toContain('revoked-token-000');
  });

  it('retries a 503 and then delivers under the same idempotency keys', async () => {
    provider.answerNext(1, 503);
    await expect(sender.send(notification({ id: 'n-retry' }), target)).rejects.toBeInstanceOf(RetryableSendError);
    await expect(sender.send(notification({ id: 'n-retry' }), target)).resolves.toEqual({ outcome: 'sent' });
    const keys = provider.deliveries.filter((d) => String(d.headers['idempotency-key']).startsWith('n-retry')).map((d) => `${d.status} ${d.headers['idempotency-key']}`);
    expect(keys).toEqual(['503 n-retry:+33612345678', '200 n-retry:+33612345678', '200 n-retry:+4915112345678']);
  });
});
