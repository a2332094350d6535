import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PagerDutyMock } from '@headroom/testing';
import { RetryableSendError, type GroupNotification } from '../channel';
import { pagerDutyChannel, type PagerDutyTarget } from './pagerduty.channel';

const KEY = 'PDINTSPEC0123456789abcdefghijklm';

function notification(groupKey: string, overrides: Partial<GroupNotification> = {}): GroupNotification {
  const now = Date.now();
  return {
    id: `n-${groupKey}-${overrides.reason ?? 'firing'}`,
    tenant: 'acme',
    receiver: 'oncall',
    groupKey,
    status: 'firing',
    reason: 'firing',
    groupLabels: { alertname: 'ErrorRate' },
    commonLabels: { alertname: 'ErrorRate', severity: 'critical', job: 'checkout' },
    commonAnnotations: { summary: 'errors above 5%' },
    alerts: [{ fingerprint: 'f1', status: 'firing', labels: { alertname: 'ErrorRate', severity: 'critical' }, annotations: { runbook_url: 'https://runbooks.example.com/errors' }, value: 0.07, startsAt: now - 120_000 }],
    locale: 'en',
    createdAt: now,
    ...overrides,
  };
}

describe('pagerduty channel against the Events API v2 mock', () => {
  const mock = new PagerDutyMock();
  const target: PagerDutyTarget = { routing_key: KEY };
  let sender: ReturnType<typeof pagerDutyChannel.create>;

  beforeAll(async () => {
    sender = pagerDutyChannel.create({ apiUrl: await mock.start(), timeoutMs: 2000 });
  });
  afterAll(() => mock.stop());

  it('opens one incident per group and takes it through acknowledge to resolve', async () => {
    const group = 'g-lifecycle';
    await expect(sender.send(notification(group), target)).resolves.toEqual({ outcome: 'sent', thread: { dedup_key: `acme/${group}` } });
    await sender.send(notification(group, { reason: 'repeat' }), target);
    await sender.send(notification(group, { reason: 'acknowledged', acknowledged: { by: 'ana', at: Date.now() } }), target);
    await sender.send(notification(group, { status: 'resolved', reason: 'resolved' }), target);

    expect(mock.incidents.get(`acme/${group}`)).toEqual(['triggered', 'acknowledged', 'resolved']);
    const events = mock.events.filter((e) => e.dedup_key === `acme/${group}`);
    expect(events.map((e) => e.event_action)).toEqual(['trigger', 'trigger', 'acknowledge', 'resolve']);
    expect(events[0]).toMatchObject({
      payload: { summary: expect.stringContaining('ErrorRate'), source: 'checkout', severity: 'critical' },
      links: [{ href: 'https://runbooks.example.com/errors', text: expect.any(String) }],
    });
  });

  it('retries while throttled, no sooner than Retry-After, then delivers', async () => {
    mock.throttleNext(2, 3);
    for (let i = 0; i < 2; i++) {
      const err = await sender.send(notification('g-throttled'), target).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RetryableSendError);
      expect(err).toMatchObject({ status: 429, retryAfterMs: 3000 });
    }
    await expect(sender.send(notification('g-throttled'), target)).resolves.toMatchObject({ outcome: 'sent' });
    expect(mock.incident('acme/g-throttled')).toBe('triggered');
  });

  it('retries a 503', async () => {
    mock.failNext(1);
    await expect(sender.send(notification('g-503'), target)).rejects.toMatchObject({ name: 'RetryableSendError', status: 503 });
    expect(mock.incident('acme/g-503')).toBeUndefined();
  });

  it("rejects an event PagerDuty refuses, with the API's words and without the routing key", async () => {
    const badKey = KEY.slice(0, 31);
    const result = await sender.send(notification('g-bad'), { routing_key: badKey });
    expect(result).toEqual({ outcome: 'rejected', reason: expect.stringContaining("Length of 'routing_key' is incorrect") });
    expect(JSON.stringify(result)).not.toContain(badKey);
  });

  it('retries when PagerDuty does not answer within the timeout', async () => {
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    try {
      const slow = pagerDutyChannel.create({ apiUrl: `http://127.0.0.1:${port}/v2/enqueue`, timeoutMs: 200 });
      const err = (await slow.send(notification('g-slow'), target).catch((e: unknown) => e)) as Error;
      expect(err).toBeInstanceOf(RetryableSendError);
      expect(err.message).toContain('no answer within 200 ms');
      expect(err.message).not.toContain(KEY);
    } finally {
      silent.closeAllConnections();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });
});
