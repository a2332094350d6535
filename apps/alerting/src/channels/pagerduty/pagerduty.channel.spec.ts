import { RetryableSendError, type GroupNotification } from '../channel';
import { dedupKey, pagerDutyChannel, pagerDutyEvent, PagerDutySender, type PagerDutyTarget } from './pagerduty.channel';

const KEY = 'R0UT1NGKEY0123456789ABCDEFGHIJKL';
const target: PagerDutyTarget = { routing_key: KEY };
const NOW = Date.UTC(2025, 0, 2, 3, 4, 5);

function notification(overrides: Partial<GroupNotification> = {}): GroupNotification {
  return {
    id: 'outbox-7',
    tenant: 'acme',
    receiver: 'oncall',
    groupKey: '{}:{alertname="HighLatency"}',
    status: 'firing',
    reason: 'firing',
    groupLabels: { alertname: 'HighLatency' },
    commonLabels: { alertname: 'HighLatency', service: 'search' },
    commonAnnotations: {},
    alerts: [
      { fingerprint: 'f1', status: 'firing', labels: { alertname: 'HighLatency', severity: 'warning' }, annotations: { runbook_url: 'https://runbooks.example.com/latency' }, value: 480, startsAt: NOW - 60_000 },
      { fingerprint: 'f2', status: 'firing', labels: { alertname: 'HighLatency', severity: 'security' }, annotations: { runbook_url: 'javascript:alert(1)' }, value: 510, startsAt: NOW - 30_000 },
    ],
    locale: 'en',
    createdAt: NOW,
    ...overrides,
  };
}

function fakeFetch(status: number, body: object | string = {}, headers: Record<string, string> = {}) {
  const calls: { url: string; init: RequestInit }[] = [];
  const fn = (async (url: string, init: RequestInit) => {
    calls.push({ url, init });
    return new Response(typeof body === 'string' ? body : JSON.stringify(body), { status, headers });
  }) as unknown as typeof fetch;
  return { fn, calls };
}

const config = { apiUrl: 'https://events.pagerduty.com/v2/enqueue', timeoutMs: 1000 };

describe('pagerduty channel config', () => {
  it('defaults to the Events API v2 endpoint and lists every problem with its path', () => {
    expect(pagerDutyChannel.defaultConfig().apiUrl).toBe('https://events.pagerduty.com/v2/enqueue');
    expect(pagerDutyChannel.validate(pagerDutyChannel.defaultConfig())).toEqual([]);
    expect(pagerDutyChannel.validate({ apiUrl: 'ftp://x/', timeoutMs: 0 })).toEqual([
      { path: 'apiUrl', message: expect.stringContaining('http(s)') },
      { path: 'timeoutMs', message: expect.stringContaining('positive integer') },
    ]);
    expect(pagerDutyChannel.secretFields).toEqual(['routing_key']);
  });

  it('takes a 32-character routing key and an optional severity map onto PagerDuty severities', () => {
    expect(pagerDutyChannel.targetSchema.safeParse({ routing_key: KEY, severity_map: { page: 'critical' } }).success).toBe(true);
    const bad = pagerDutyChannel.targetSchema.safeParse({ routing_key: 'short', severity_map: { page: 'urgent' } });
    expect(bad.error?.issues.map((i) => i.path.join('.'))).toEqual(['routing_key', 'severity_map.page']);
  });
});

describe('pagerduty events', () => {
  it('triggers a firing group under a dedup key stable per tenant and group', () => {
    const event = pagerDutyEvent(notification(), target);
    expect(event).toMatchObject({
      routing_key: KEY,
      event_action: 'trigger',
      dedup_key: 'acme/{}:{alertname="HighLatency"}',
      payload: {
        summary: expect.stringContaining('HighLatency'),
        // The group's instance, job or service label, else the tenant.
        source: 'search',
        // The worst of the firing alerts: security maps onto critical.
        severity: 'critical',
        class: 'HighLatency',
        component: 'search',
        timestamp: '2025-01-02T03:03:05.000Z',
        custom_details: { common_labels: { alertname: 'HighLatency', service: 'search' }, firing: 2, alerts: [expect.objectContaining({ value: 480 }), expect.objectContaining({ value: 510 })] },
      },
    });
    expect((pagerDutyEvent(notification({ commonLabels: {} }), target).payload as { source: string }).source).toBe('headroom/acme');
    // The javascript: runbook is not turned into a link.
    expect(event['links']).toEqual([{ href: 'https://runbooks.example.com/latency', text: expect.any(String) }]);
  });

  it('acknowledges and resolves the same incident, without a payload', () => {
    const trigger = pagerDutyEvent(notification(), target);
    const ack = pagerDutyEvent(notification({ reason: 'acknowledged', acknowledged: { by: 'ana', at: NOW } }), target);
    const resolve = pagerDutyEvent(notification({ status: 'resolved', reason: 'resolved' }), target);
    expect(ack).toEqual({ routing_key: KEY, dedup_key: trigger.dedup_key, event_action: 'acknowledge' });
    expect(resolve).toEqual({ routing_key: KEY, dedup_key: trigger.dedup_key, event_action: 'resolve' });
  });

  it('maps severities through the defaults, the target map, and falls back to error', () => {
    const sev = (labels: Record<string, string>, map?: PagerDutyTarget['severity_map']) =>
      (pagerDutyEvent(notification({ commonLabels: labels }), { routing_key: KEY, severity_map: map }).payload as { severity: string }).severity;
    expect(sev({ severity: 'critical' })).toBe('critical');
    expect(sev({ severity: 'warning' })).toBe('warning');
    expect(sev({ severity: 'info' })).toBe('info');
    expect(sev({ severity: 'security' })).toBe('critical');
    expect(sev({ severity: 'page' })).toBe('error');
    expect(sev({ severity: 'constructor' })).toBe('error');
    expect(sev({ severity: 'page' }, { page: 'critical' })).toBe('critical');
    expect(sev({ severity: 'warning' }, { warning: 'error' })).toBe('error');
  });

  it('keeps an over-long group key stable and within the 255-character limit', () => {
    const long = { tenant: 'acme', groupKey: 'x'.repeat(400) };
    expect(dedupKey(long)).toBe(dedupKey({ ...long }));
    expect(dedupKey(long).length).toBeLessThanOrEqual(255);
    expect(dedupKey(long)).not.toBe(dedupKey({ tenant: 'acme', groupKey: 'y'.repeat(400) }));
  });
});

describe('pagerduty sender', () => {
  it('sends the event as JSON and counts 202 as sent', async () => {
    const fetch = fakeFetch(202, { status: 'success', dedup_key: 'acme/x', message: 'Event processed' });
    await expect(new PagerDutySender(config, { fetch: fetch.fn }).send(notification(), target)).resolves.toEqual({
      outcome: 'sent',
      thread: { dedup_key: 'acme/{}:{alertname="HighLatency"}' },
    });
    expect(fetch.calls[0]!.url).toBe(config.apiUrl);
    expect(JSON.parse(fetch.calls[0]!.init.body as string)).toMatchObject({ event_action: 'trigger', routing_key: KEY });
  });

  it("rejects a 400 with the API's message and errors, never the routing key", async () => {
    const body = { status: 'invalid event', message: 'Event object is invalid', errors: [`routing_key ${KEY} is not an integration key`] };
    const result = await new PagerDutySender(config, { fetch: fakeFetch(400, body).fn }).send(notification(), target);
    expect(result).toEqual({ outcome: 'rejected', reason: 'pagerduty answered 400: Event object is invalid; routing_key [redacted] is not an integration key' });
    expect(JSON.stringify(result)).not.toContain(KEY);
  });

  it.each([429, 500, 502, 503])('retries %i no sooner than Retry-After', async (status) => {
    const err = await new PagerDutySender(config, { fetch: fakeFetch(status, { status: 'throttle event' }, { 'retry-after': '30' }).fn }).send(notification(), target).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetryableSendError);
    expect(err).toMatchObject({ status, retryAfterMs: 30_000 });
  });

  it('retries a network failure, and the error names neither the key nor the body', async () => {
    const failing = (async () => {
      throw Object.assign(new TypeError('fetch failed'), { cause: { code: 'ENOTFOUND' } });
    }) as unknown as typeof fetch;
    const err = (await new PagerDutySender(config, { fetch: failing }).send(notification(), target).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(RetryableSendError);
    expect(err.message).toBe('pagerduty POST to events.pagerduty.com failed: ENOTFOUND');
  });
});
