import { Inject, Injectable } from '@nestjs/common';
import { Counter, type Registry } from 'prom-client';
import { LOGGER, METRICS, type Logger } from '@headroom/runtime';
import type { AlertNotification, NotificationChannel } from './notification-channel';
import { NotificationLog } from './notification-log';

export const NOTIFICATION_CHANNELS = Symbol('NOTIFICATION_CHANNELS');

/** A transient delivery failure: the record is retried with backoff, never skipped. */
export class DeliveryFailedError extends Error {
  constructor(channel: string, cause: unknown) {
    super(`${channel} delivery failed: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'DeliveryFailedError';
  }
}

/**
 * Delivers one alert transition on every configured channel, at most once per channel: the
 * notification log is claimed before sending and released if the send fails, so the retry can send.
 */
@Injectable()
export class NotificationsService {
  private readonly notifications: Counter<'channel' | 'state' | 'outcome'>;

  constructor(
    @Inject(NOTIFICATION_CHANNELS) private readonly channels: NotificationChannel[],
    @Inject(NotificationLog) private readonly log: NotificationLog,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(METRICS) metrics: Registry,
  ) {
    this.notifications = new Counter({
      name: 'headroom_alerts_notifications_total',
      help: 'Alert notifications by channel, state (firing, resolved, anomaly) and outcome (sent, duplicate, skipped, rejected, failed, suppressed).',
      labelNames: ['channel', 'state', 'outcome'],
      registers: [metrics],
    });
  }

  /**
   * Counts a page that burst control held back (`outcome="suppressed"`, per channel), so a noisy
   * series is visible on the dashboards without flooding the tenant's channel.
   */
  suppressed(n: AlertNotification): void {
    for (const channel of this.channels) this.notifications.inc({ channel: channel.type, state: n.state, outcome: 'suppressed' });
  }

  async notify(n: AlertNotification): Promise<void> {
    for (const channel of this.channels) {
      const key = { tenant: n.tenant, fingerprint: n.fingerprint, state: n.state, startsAt: n.startsAt, channel: channel.type };
      const labels = { channel: channel.type, state: n.state };
      if (!(await this.log.claim(key))) {
        this.notifications.inc({ ...labels, outcome: 'duplicate' });
        continue;
      }
      let result;
      try {
        result = await channel.send(n);
      } catch (err) {
        await this.log.release(key);
        this.notifications.inc({ ...labels, outcome: 'failed' });
        throw new DeliveryFailedError(channel.type, err);
      }
      if (result.outcome === 'rejected') {
        // Not retried: keep the claim so a replay does not hammer a destination that will refuse again.
        this.logger.warn({ tenant: n.tenant, fingerprint: n.fingerprint, channel: channel.type, reason: result.reason }, 'notification rejected by the channel');
      } else if (result.outcome === 'skipped') {
        await this.log.release(key);
      }
      this.notifications.inc({ ...labels, outcome: result.outcome });
      this.logger.info({ tenant: n.tenant, fingerprint: n.fingerprint, rule: n.state === 'anomaly' ? 'anomaly' : n.rule.id, state: n.state, channel: channel.type, outcome: result.outcome }, 'alert notification');
    }
  }
}
