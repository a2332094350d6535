import type { Labels } from '@headroom/contracts';
import type { AlertInstance, NotificationReason } from '../channels/channel';

/** An escalation policy: notify, wait, escalate to the next step until acknowledged; `repeat` whole cycles more. */
export interface EscalationPolicy {
  name: string;
  steps: { receivers: string[]; afterMs: number }[];
  repeat: number;
}

export interface GroupTimers {
  groupWaitMs: number;
  groupIntervalMs: number;
  repeatIntervalMs: number;
}

/** What is stored per alert group (tenant + group key) between flushes. */
export interface GroupState {
  tenant: string;
  groupKey: string;
  routeId: string;
  receiver: string;
  groupLabels: Labels;
  timers: GroupTimers;
  escalation?: EscalationPolicy;
  locale?: string;
  /** fingerprint → latest known instance (firing or resolved). */
  alerts: Record<string, AlertInstance>;
  nextFlushAt: number | null;
  /** Firing fingerprints in the last notification (resolutions are sent only for these, like Alertmanager). */
  notifiedFiring: string[];
  lastHash: string | null;
  lastNotifiedAt: number | null;
  /** When the episode's first notification went out: escalation steps count from there. */
  firstNotifiedAt: number | null;
  /** Escalation steps already notified, counting across repeat cycles (0 = none yet). */
  escalationStepsDone: number;
  /** Receivers that escalation brought in: they hear the acknowledgement and the resolution too. */
  escalatedReceivers: string[];
  ack: { by: string; at: number } | null;
  /** Earliest upstream transition time among the alerts that opened this group's current notification (latency metric). */
  originAt?: number;
}

export interface PlannedNotification {
  receiver: string;
  reason: NotificationReason;
  status: 'firing' | 'resolved';
  escalationStep?: number;
  alerts: AlertInstance[];
}

export type Mute = (alert: AlertInstance) => 'silenced' | 'inhibited' | undefined;

export interface FlushPlan {
  notifications: PlannedNotification[];
  /** The group after the flush; null when nothing is left in it (every alert resolved and told). */
  next: GroupState | null;
  /** Alerts muted by a silence or an inhibition at this flush, for metrics. */
  muted: number;
}

const sortedFingerprints = (alerts: AlertInstance[]) => alerts.map((a) => a.fingerprint).sort();

/**
 * Alertmanager's notification pipeline for one aggregation group, pure: mute (silences, inhibition),
 * dedupe against the last notification, then decide — first notification after group_wait, an update
 * at most every group_interval when the set changed, a repeat after repeat_interval when it did not,
 * the resolution once the last notified alert resolves — plus escalation steps while firing and not
 * acknowledged.
 */
export function planFlush(group: GroupState, now: number, mute: Mute): FlushPlan {
  // A firing alert past its endsAt (an anomaly page's expiry) has resolved, as in Alertmanager.
  const all = Object.values(group.alerts).map((a) => (a.status === 'firing' && a.endsAt !== undefined && a.endsAt <= now ? { ...a, status: 'resolved' as const } : a));
  let muted = 0;
  const firing: AlertInstance[] = [];
  for (const a of all) {
    if (a.status !== 'firing') continue;
    if (mute(a)) muted++;
    else firing.push(a);
  }
  const notified = new Set(group.notifiedFiring);
  const resolved = all.filter((a) => a.status === 'resolved' && notified.has(a.fingerprint));
  const hash = `${sortedFingerprints(firing).join(',')}|${sortedFingerprints(resolved).join(',')}`;
  const notifications: PlannedNotification[] = [];
  const next: GroupState = { ...group, alerts: { ...group.alerts } };
  const status: 'firing' | 'resolved' = firing.length > 0 ? 'firing' : 'resolved';
  const toldReceivers = () => [group.receiver, ...group.escalatedReceivers.filter((r) => r !== group.receiver)];

  const changed = hash !== group.lastHash && (firing.length > 0 || resolved.length > 0);
  const repeatDue = !changed && firing.length > 0 && group.lastNotifiedAt !== null && now >= group.lastNotifiedAt + group.timers.repeatIntervalMs;
  if (changed || repeatDue) {
    const reason: NotificationReason = repeatDue ? 'repeat' : group.lastNotifiedAt === null || group.notifiedFiring.length === 0 ? 'firing' : firing.length === 0 ? 'resolved' : 'updated';
    const alerts = [...firing, ...resolved];
    const receivers = reason === 'firing' ? [group.receiver] : toldReceivers();
    for (const receiver of receivers) notifications.push({ receiver, reason, status, alerts });
    next.lastHash = hash;
    next.lastNotifiedAt = now;
    next.notifiedFiring = sortedFingerprints(firing);
    if (reason === 'firing') next.firstNotifiedAt = now;
  }
  // The transitions that were waiting have been told: the next notification measures from its own.
  const told = notifications.length > 0;
  if (told) next.originAt = undefined;

  // Resolved alerts have been told (or never needed telling): they leave the group.
  for (const a of all) if (a.status === 'resolved') delete next.alerts[a.fingerprint];
  if (firing.length === 0 && muted === 0) {
    // The episode is over: a new firing starts a new thread, escalation and acknowledgement.
    if (Object.keys(next.alerts).length === 0) return { notifications, next: null, muted };
  }

  // Escalation: while firing, told, and not acknowledged.
  let nextEscalationAt: number | null = null;
  if (group.escalation && firing.length > 0 && next.firstNotifiedAt !== null && !group.ack) {
    const policy = group.escalation;
    const cycleLength = Math.max(1, ...policy.steps.map((s) => s.afterMs)) ;
    const totalSteps = policy.steps.length * (policy.repeat + 1);
    const dueAt = (k: number) => next.firstNotifiedAt! + Math.floor(k / policy.steps.length) * cycleLength + policy.steps[k % policy.steps.length]!.afterMs;
    while (next.escalationStepsDone < totalSteps && dueAt(next.escalationStepsDone) <= now) {
      const k = next.escalationStepsDone;
      const step = policy.steps[k % policy.steps.length]!;
      const escalationAlerts = [...firing];
      // The route's own receiver hears it too (the Slack thread carries firing → escalated → resolved).
      const receivers = [group.receiver, ...step.receivers.filter((r) => r !== group.receiver)];
      for (const receiver of receivers) notifications.push({ receiver, reason: 'escalation', status: 'firing', escalationStep: k, alerts: escalationAlerts });
      next.escalatedReceivers = [...new Set([...next.escalatedReceivers, ...step.receivers])];
      next.escalationStepsDone = k + 1;
    }
    if (next.escalationStepsDone < totalSteps) nextEscalationAt = dueAt(next.escalationStepsDone);
  }

  const interval = next.lastNotifiedAt === null ? group.timers.groupWaitMs : group.timers.groupIntervalMs;
  const candidates = [now + interval];
  if (nextEscalationAt !== null) candidates.push(nextEscalationAt);
  next.nextFlushAt = Math.min(...candidates);
  return { notifications, next, muted };
}

/** Acknowledging a group: the people already told hear it; escalation stops until the episode ends. */
export function planAck(group: GroupState, by: string, now: number): FlushPlan {
  if (group.ack) return { notifications: [], next: group, muted: 0 };
  const firing = Object.values(group.alerts).filter((a) => a.status === 'firing');
  const receivers = [group.receiver, ...group.escalatedReceivers.filter((r) => r !== group.receiver)];
  const told = group.lastNotifiedAt !== null;
  return {
    notifications: told ? receivers.map((receiver) => ({ receiver, reason: 'acknowledged' as const, status: 'firing' as const, alerts: firing })) : [],
    next: { ...group, ack: { by, at: now } },
    muted: 0,
  };
}
