import { Registry } from 'prom-client';
import type Redis from 'ioredis';
import { createLogger } from '@headroom/runtime';
import type { AlertNotification, DeliveryOutcome, NotificationChannel } from './notification-channel';
import { NotificationLog } from './notification-log';
import { DeliveryFailedError, NotificationsService } from './notifications.service';

/** The two Redis commands the log uses, with Redis's semantics (SET … NX answers null when the key exists). */
class FakeRedis {
  readonly keys = new Map<string, string>();
  async set(key: string, value: string, ..._opts: (string | number)[]): Promise<'OK' | null> {
    if (this.keys.has(key)) return null;
    this.keys.set(key, value);
    return 'OK';
  }
  async del(key: string): Promise<number> {
    return this.keys.delete(key) ? 1 : 0;
  }
}

class FakeChannel implements NotificationChannel {
  readonly type = 'slack';
  readonly sent: AlertNotification[] = [];
  next: DeliveryOutcome | Error | undefined;
  async send(n: AlertNotification): Promise<DeliveryOutcome> {
    const next = this.next;
    this.next = undefined;
    if (next instanceof Error) throw next;
    if (next) return next;
    this.sent.push(n);
    return { outcome: 'sent' };
  }
}

const n: AlertNotification = {
  tenant: 'label-a',
  locale: 'en',
  state: 'firing',
  fingerprint: 'fp1',
  rule: { id: 'latency', metric: 'api_latency_ms', stat: 'p95', op: '>', threshold: 250, severity: 'warning' },
  series: { name: 'api_latency_ms', labels: {} },
  value: 312,
  startsAt: 1_767_225_600_000,
  route: { slackChannel: '#oncall' },
};

function setup() {
  const redis = new FakeRedis();
  const channel = new FakeChannel();
  const metrics = new Registry();
  const log = new NotificationLog(redis as unknown as Redis);
  // A second instance shares Redis but has its own channel client and metrics.
  const service = new NotificationsService([channel], log, createLogger('test', 'silent'), metrics);
  const count = async (outcome: string) => {
    const m = await metrics.getSingleMetric('headroom_alerts_notifications_total')!.get();
    return m.values.filter((v) => v.labels['outcome'] === outcome).reduce((s, v) => s + v.value, 0);
  };
  return { redis, channel, service, count };
}

describe('NotificationsService', () => {
  it('sends a transition once, however many times it is notified', async () => {
    const { redis, channel, service, count } = setup();
    await service.notify(n);
    await service.notify(n);
    expect(channel.sent).toHaveLength(1);
    expect([...redis.keys.keys()]).toEqual([`hr:notif:label-a:fp1:firing:${n.startsAt}:slack`]);
    expect(await count('sent')).toBe(1);
    expect(await count('duplicate')).toBe(1);
  });

  it('treats a new episode and a resolution as new notifications', async () => {
    const { channel, service } = setup();
    await service.notify(n);
    await service.notify({ ...n, state: 'resolved', endsAt: n.startsAt + 10_000 });
    await service.notify({ ...n, startsAt: n.startsAt + 60_000 });
    expect(channel.sent.map((s) => s.state)).toEqual(['firing', 'resolved', 'firing']);
  });

  it('gives the claim back when the send fails, so the retry sends', async () => {
    const { redis, channel, service, count } = setup();
    channel.next = new Error('ECONNRESET');
    await expect(service.notify(n)).rejects.toBeInstanceOf(DeliveryFailedError);
    expect(redis.keys.size).toBe(0);
    await service.notify(n);
    expect(channel.sent).toHaveLength(1);
    expect(await count('failed')).toBe(1);
  });

  it('does not retry a rejected destination, and counts it', async () => {
    const { channel, service, count } = setup();
    channel.next = { outcome: 'rejected', reason: 'channel_not_found' };
    await service.notify(n);
    await service.notify(n);
    expect(channel.sent).toHaveLength(0);
    expect(await count('rejected')).toBe(1);
  });
});
