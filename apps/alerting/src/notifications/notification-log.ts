import type Redis from 'ioredis';

/** A week: longer than any replay or redelivery window, short enough that Redis does not fill up. */
export const NOTIFICATION_LOG_TTL_SECONDS = 604_800;

export interface NotificationKey {
  tenant: string;
  fingerprint: string;
  state: 'firing' | 'resolved' | 'anomaly';
  startsAt: number;
  channel: string;
}

/**
 * Shared memory of what was already sent, so a replay, a retry after a crash, or a second instance
 * never pages twice. The key identifies one transition of one alert episode (startsAt), per channel.
 */
export class NotificationLog {
  constructor(private readonly redis: Redis) {}

  static key(k: NotificationKey): string {
    return `hr:notif:${k.tenant}:${k.fingerprint}:${k.state}:${k.startsAt}:${k.channel}`;
  }

  /** True when this caller now owns the send; false when it was already sent (or is being sent). */
  async claim(k: NotificationKey): Promise<boolean> {
    const res = await this.redis.set(NotificationLog.key(k), '1', 'EX', NOTIFICATION_LOG_TTL_SECONDS, 'NX');
    return res === 'OK';
  }

  /** Gives the claim back after a failed send, so the retry can send. */
  async release(k: NotificationKey): Promise<void> {
    await this.redis.del(NotificationLog.key(k));
  }
}
