import type { GroupNotification } from '../channel';
import type { RenderedNotification } from '../../i18n/render';
import { httpUrl, slackTextWithin } from './slack-text';

/** action_id of the Acknowledge button; `interactivity.ts` looks for it in block_actions payloads. */
export const ACK_ACTION_ID = 'headroom_ack';
/** Slack shows at most 50 blocks; ten alerts keep a page readable on a phone. */
export const MAX_ALERTS_SHOWN = 10;

/**
 * What the Acknowledge button carries back. The dispatcher must check `tenant` against the tenant
 * that installed the app in the clicking workspace (team id) before acknowledging: the value alone
 * proves nothing, since anyone can craft a button.
 */
export interface AckButtonValue {
  tenant: string;
  groupKey: string;
}

interface PlainText {
  type: 'plain_text';
  text: string;
}
export type SlackBlock =
  | { type: 'header'; text: PlainText }
  | { type: 'section'; text: PlainText }
  | { type: 'context'; elements: PlainText[] }
  | { type: 'actions'; block_id: string; elements: SlackButton[] };
interface SlackButton {
  type: 'button';
  action_id: string;
  text: PlainText;
  value?: string;
  url?: string;
  style?: 'primary';
}

export interface SlackMessageContent {
  /** Fallback for notifications and screen readers, sent with `mrkdwn: false`. */
  text: string;
  blocks: SlackBlock[];
}

const plain = (raw: string, max = 3000): PlainText => ({ type: 'plain_text', text: slackTextWithin(raw, max) });

/** Slack caps a button value at 2000 characters; a longer group key gets no button rather than a broken one. */
export function ackButtonValue(n: GroupNotification): string | undefined {
  const value = JSON.stringify({ tenant: n.tenant, groupKey: n.groupKey } satisfies AckButtonValue);
  return value.length <= 2000 ? value : undefined;
}

function actions(n: GroupNotification, r: RenderedNotification): SlackBlock[] {
  const buttons: SlackButton[] = [];
  const ackValue = ackButtonValue(n);
  if (n.status === 'firing' && n.reason !== 'acknowledged' && !n.acknowledged && ackValue) {
    buttons.push({ type: 'button', action_id: ACK_ACTION_ID, text: plain(r.actions.acknowledge, 75), value: ackValue, style: 'primary' });
  }
  const runbook = httpUrl(n.commonAnnotations['runbook_url'] ?? r.alerts.find((a) => a.runbookUrl)?.runbookUrl);
  if (runbook) buttons.push({ type: 'button', action_id: 'headroom_runbook', text: plain(r.actions.runbook, 75), url: runbook });
  return buttons.length > 0 ? [{ type: 'actions', block_id: 'headroom_actions', elements: buttons }] : [];
}

/** The group's message (the thread parent): its latest status, alerts, labels and actions. */
export function groupMessage(n: GroupNotification, r: RenderedNotification, moreLine: (hidden: number) => string): SlackMessageContent {
  const blocks: SlackBlock[] = [{ type: 'header', text: plain(r.title, 150) }];
  if (r.reasonLine) blocks.push({ type: 'context', elements: [plain(r.reasonLine)] });
  for (const alert of r.alerts.slice(0, MAX_ALERTS_SHOWN)) {
    blocks.push({ type: 'section', text: plain([alert.headline, ...alert.details].join('\n')) });
  }
  const hidden = r.alerts.length - MAX_ALERTS_SHOWN;
  if (hidden > 0) blocks.push({ type: 'context', elements: [plain(moreLine(hidden))] });
  const context = [plain(r.tenantLine)];
  if (r.groupLabels.length > 0) context.push(plain(r.groupLabels.join(' · ')));
  blocks.push({ type: 'context', elements: context });
  blocks.push(...actions(n, r));
  return { text: slackTextWithin(r.short, 3000), blocks };
}

/** A reply in the group's thread: what changed (escalated, acknowledged, resolved…), short. */
export function threadReply(r: RenderedNotification): SlackMessageContent {
  const lines = [r.title, ...(r.reasonLine ? [r.reasonLine] : [])];
  return { text: slackTextWithin(lines.join(' — '), 3000), blocks: [{ type: 'section', text: plain(lines.join('\n')) }] };
}
