import { emailChannel } from './email/email.channel';
import { pagerDutyChannel } from './pagerduty/pagerduty.channel';
import { ChannelRegistry } from './registry';
import { slackChannel } from './slack/slack.channel';
import { smsChannel } from './sms/sms.channel';
import { webhookChannel } from './webhook/webhook.channel';

/** Every channel this deployment knows: one line per channel folder. */
export const defaultChannelRegistry = () =>
  new ChannelRegistry().register(slackChannel).register(pagerDutyChannel).register(emailChannel).register(webhookChannel).register(smsChannel);
