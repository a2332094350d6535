/**
 * A tenant admin chooses its webhook and SMS URLs. These try to make alerting reach the deployment's
 * own network — a live server on loopback, spelled every way a URL can spell it, and the cloud
 * metadata address — and check that nothing is sent, the notification is refused for good with the
 * reason, and the same server is reached once the deployment allows its range.
 */
import { WebhookReceiver } from '@headroom/testing';
import type { GroupNotification } from './channel';
import { EgressPolicy } from './egress';
import { smsChannel } from './sms/sms.channel';
import { webhookChannel } from './webhook/webhook.channel';

const SECRET = 'egress-spec-secret-0123456789';

function notification(id: string): GroupNotification {
  const now = Date.now();
  return {
    id,
    tenant: 'mallory',
    receiver: 'hook',
    groupKey: '{}:{alertname="X"}',
    status: 'firing',
    reason: 'firing',
    groupLabels: { alertname: 'X' },
    commonLabels: { alertname: 'X', severity: 'critical' },
    commonAnnotations: {},
    alerts: [{ fingerprint: 'f', status: 'firing', labels: { alertname: 'X' }, annotations: {}, value: 1, startsAt: now }],
    locale: 'en',
    createdAt: now,
  };
}

describe('egress guard on tenant-chosen URLs', () => {
  const internal = new WebhookReceiver();
  let port: number;

  beforeAll(async () => {
    port = Number(new URL(await internal.start()).port);
  });
  afterAll(() => internal.stop());

  const spellings = () => [
    `http://127.0.0.1:${port}/hook`,
    `http://localhost:${port}/hook`, // a name: refused in the socket's own lookup
    `http://[::ffff:127.0.0.1]:${port}/hook`, // IPv4-mapped IPv6
    `http://2130706433:${port}/hook`, // 127.0.0.1 as one decimal number
    `http://0x7f.1:${port}/hook`, // hex and short forms
    `http://[::1]:${port}/hook`,
    `http://0.0.0.0:${port}/hook`,
  ];

  it('refuses loopback however the URL spells it, sends nothing, and says why', async () => {
    const sender = webhookChannel.create(webhookChannel.defaultConfig());
    for (const url of spellings()) {
      const result = await sender.send(notification(`n-${url}`), { url, secret: SECRET });
      expect({ url, result }).toEqual({ url, result: { outcome: 'rejected', reason: expect.stringMatching(/^webhook not sent: egress to .+ denied: .+ is a (loopback|unspecified) address/) } });
    }
    expect(internal.deliveries).toHaveLength(0);
  });

  it('refuses cloud metadata, private and carrier-grade NAT addresses without connecting', async () => {
    const sender = webhookChannel.create({ ...webhookChannel.defaultConfig(), timeoutMs: 500 });
    for (const [host, range] of [
      ['169.254.169.254', 'linkLocal'],
      ['10.0.0.1', 'private'],
      ['192.168.1.1', 'private'],
      ['172.16.0.1', 'private'],
      ['100.64.0.1', 'carrierGradeNat'],
      ['[fd00::1]', 'uniqueLocal'],
      ['[fe80::1]', 'linkLocal'],
    ] as const) {
      const t0 = Date.now();
      const result = await sender.send(notification(`m-${host}`), { url: `http://${host}/latest/meta-data/`, secret: SECRET });
      expect(result).toEqual({ outcome: 'rejected', reason: expect.stringContaining(`is a ${range} address`) });
      // Refused before any connection attempt: not a 500 ms connect timeout.
      expect(Date.now() - t0).toBeLessThan(400);
    }
  });

  it('guards the SMS provider URL the same way', async () => {
    const sender = smsChannel.create(smsChannel.defaultConfig());
    const result = await sender.send(notification('s-1'), { url: `http://localhost:${port}/sms`, to: ['+33612345678'], token: 'sms-token-0123456789' });
    expect(result).toEqual({ outcome: 'rejected', reason: expect.stringContaining('sms provider not sent: egress to localhost denied') });
    expect(JSON.stringify(result)).not.toContain('sms-token');
    expect(internal.deliveries).toHaveLength(0);
  });

  it('reaches the same server once the deployment allows its range', async () => {
    const sender = webhookChannel.create({ ...webhookChannel.defaultConfig(), egressAllow: ['127.0.0.0/8'] });
    await expect(sender.send(notification('ok-1'), { url: `http://localhost:${port}/hook`, secret: SECRET })).resolves.toEqual({ outcome: 'sent' });
    await expect(sender.send(notification('ok-2'), { url: `http://127.0.0.1:${port}/hook`, secret: SECRET })).resolves.toEqual({ outcome: 'sent' });
    expect(internal.deliveries.filter((d) => d.status === 200)).toHaveLength(2);
    // An allowed IPv4 range does not open its IPv6 twin.
    const v6 = await sender.send(notification('ok-3'), { url: `http://[::1]:${port}/hook`, secret: SECRET });
    expect(v6).toMatchObject({ outcome: 'rejected' });
  });

  it('classifies addresses as Mimir-style deployments expect: public unicast only', () => {
    const policy = new EgressPolicy(['10.1.0.0/16']);
    expect(policy.denial('8.8.8.8')).toBeUndefined();
    expect(policy.denial('2606:4700::1111')).toBeUndefined();
    expect(policy.denial('10.1.2.3')).toBeUndefined();
    expect(policy.denial('10.2.0.1')).toBe('private');
    expect(policy.denial('64:ff9b::7f00:1')).toBe('rfc6052'); // NAT64 wrapping 127.0.0.1
    expect(policy.denial('224.0.0.1')).toBe('multicast');
    expect(policy.denial('not-an-ip')).toBe('unparseable');
  });
});
