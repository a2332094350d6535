import type { AlertInstance } from '../channels/channel';
import { planAck, planFlush, type GroupState, type Mute } from './group-plan';

const alert = (fingerprint: string, status: 'firing' | 'resolved' = 'firing', labels: Record<string, string> = {}): AlertInstance => ({
  fingerprint,
  status,
  labels: { alertname: 'HighLatency', ...labels },
  annotations: {},
  value: 300,
  startsAt: 1_000,
});

const group = (over: Partial<GroupState> = {}): GroupState => ({
  tenant: 'label-a',
  groupKey: 'g1',
  routeId: '0',
  receiver: 'oncall',
  groupLabels: { alertname: 'HighLatency' },
  timers: { groupWaitMs: 30_000, groupIntervalMs: 300_000, repeatIntervalMs: 4 * 3_600_000 },
  alerts: {},
  nextFlushAt: 30_000,
  notifiedFiring: [],
  lastHash: null,
  lastNotifiedAt: null,
  firstNotifiedAt: null,
  escalationStepsDone: 0,
  escalatedReceivers: [],
  ack: null,
  ...over,
});

const none: Mute = () => undefined;

describe('planFlush (Alertmanager notification pipeline for one group)', () => {
  it('sends the first notification with every firing alert, then waits group_interval', () => {
    const plan = planFlush(group({ alerts: { a: alert('a'), b: alert('b') } }), 30_000, none);
    expect(plan.notifications).toEqual([{ receiver: 'oncall', reason: 'firing', status: 'firing', alerts: [alert('a'), alert('b')] }]);
    expect(plan.next?.nextFlushAt).toBe(330_000);
    expect(plan.next?.notifiedFiring).toEqual(['a', 'b']);
  });

  it('tells nothing again when nothing changed before repeat_interval, and repeats after it', () => {
    const first = planFlush(group({ alerts: { a: alert('a') } }), 30_000, none).next!;
    expect(planFlush(first, 330_000, none).notifications).toEqual([]);
    const repeat = planFlush(first, 30_000 + 4 * 3_600_000, none);
    expect(repeat.notifications.map((n) => n.reason)).toEqual(['repeat']);
  });

  it('sends an update when the set of firing alerts changed', () => {
    const first = planFlush(group({ alerts: { a: alert('a') } }), 30_000, none).next!;
    first.alerts['b'] = alert('b');
    const plan = planFlush(first, 330_000, none);
    expect(plan.notifications.map((n) => [n.reason, n.alerts.map((a) => a.fingerprint)])).toEqual([['updated', ['a', 'b']]]);
  });

  it('sends the resolution once for notified alerts, then the group is gone', () => {
    const first = planFlush(group({ alerts: { a: alert('a') } }), 30_000, none).next!;
    first.alerts['a'] = alert('a', 'resolved');
    const plan = planFlush(first, 330_000, none);
    expect(plan.notifications.map((n) => [n.reason, n.status])).toEqual([['resolved', 'resolved']]);
    expect(plan.next).toBeNull();
  });

  it('drops an alert that resolved before anyone was told, telling nobody', () => {
    const plan = planFlush(group({ alerts: { a: alert('a', 'resolved') } }), 30_000, none);
    expect(plan.notifications).toEqual([]);
    expect(plan.next).toBeNull();
  });

  it('keeps silenced or inhibited alerts out of notifications but keeps the group', () => {
    const mute: Mute = (a) => (a.fingerprint === 'a' ? 'silenced' : a.fingerprint === 'b' ? 'inhibited' : undefined);
    const plan = planFlush(group({ alerts: { a: alert('a'), b: alert('b'), c: alert('c') } }), 30_000, mute);
    expect(plan.notifications[0]?.alerts.map((a) => a.fingerprint)).toEqual(['c']);
    expect(plan.muted).toBe(2);
    const allMuted = planFlush(group({ alerts: { a: alert('a') } }), 30_000, () => 'silenced');
    expect(allMuted.notifications).toEqual([]);
    expect(allMuted.next).not.toBeNull();
  });

  it('escalates step by step until acknowledged, and the acknowledgement and resolution reach everyone told', () => {
    const escalation = { name: 'ops', steps: [{ receivers: ['lead'], afterMs: 300_000 }, { receivers: ['manager'], afterMs: 900_000 }], repeat: 0 };
    const start = planFlush(group({ alerts: { a: alert('a') }, escalation }), 30_000, none);
    expect(start.notifications.map((n) => n.receiver)).toEqual(['oncall']);
    expect(start.next?.nextFlushAt).toBe(330_000);
    const step1 = planFlush(start.next!, 330_000, none);
    expect(step1.notifications.map((n) => [n.receiver, n.reason, n.escalationStep])).toEqual([
      ['oncall', 'escalation', 0],
      ['lead', 'escalation', 0],
    ]);
    const acked = planAck(step1.next!, 'user:ana', 400_000);
    expect(acked.notifications.map((n) => [n.receiver, n.reason])).toEqual([
      ['oncall', 'acknowledged'],
      ['lead', 'acknowledged'],
    ]);
    // Acknowledged: the manager step never comes.
    expect(planFlush(acked.next!, 930_000, none).notifications).toEqual([]);
    const resolvedGroup = { ...acked.next!, alerts: { a: alert('a', 'resolved') } };
    expect(planFlush(resolvedGroup, 1_000_000, none).notifications.map((n) => [n.receiver, n.reason])).toEqual([
      ['oncall', 'resolved'],
      ['lead', 'resolved'],
    ]);
  });

  it('does not escalate a group nobody acknowledges past its last step and repeat', () => {
    const escalation = { name: 'ops', steps: [{ receivers: ['lead'], afterMs: 60_000 }], repeat: 1 };
    let g = planFlush(group({ alerts: { a: alert('a') }, escalation }), 0, none).next!;
    const steps: [number, number][] = [];
    for (let t = 10_000; t <= 600_000; t += 10_000) {
      const plan = planFlush(g, t, none);
      for (const n of plan.notifications) if (n.receiver === 'lead') steps.push([t, n.escalationStep!]);
      g = plan.next!;
    }
    expect(steps).toEqual([
      [60_000, 0],
      [120_000, 1],
    ]);
    expect(g.escalationStepsDone).toBe(2);
  });
});
