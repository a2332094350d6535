import { aclBindingKey, aclBindings, topicAccess, topicAccessProblems, type AclBinding, type ServiceAccess } from './topic-access';
import { Topics } from './topics';

const writers = (bindings: AclBinding[], topic: string) =>
  bindings
    .filter((b) => b.resourceType === 'topic' && b.resourceName === topic && b.operation === 'write')
    .map((b) => b.principal)
    .sort();

describe('topicAccess', () => {
  it('control alone writes the control topic; every service reads it', () => {
    const bindings = aclBindings(topicAccess());
    expect(writers(bindings, Topics.control.name)).toEqual(['User:control']);
    const readers = bindings.filter((b) => b.resourceName === Topics.control.name && b.operation === 'read').map((b) => b.principal);
    expect(readers.sort()).toEqual(['User:alerting', 'User:analytics', 'User:collectors', 'User:control', 'User:exporters']);
  });

  it('each output topic has exactly its producer, audit and dlq have every service', () => {
    const bindings = aclBindings(topicAccess());
    expect(writers(bindings, Topics.telemetry.name)).toEqual(['User:collectors']);
    expect(writers(bindings, Topics.aggregates.name)).toEqual(['User:analytics']);
    expect(writers(bindings, Topics.signals.name)).toEqual(['User:analytics']);
    expect(writers(bindings, Topics.alerts.name)).toEqual(['User:alerting']);
    const all = ['User:alerting', 'User:analytics', 'User:collectors', 'User:control', 'User:exporters'];
    expect(writers(bindings, Topics.audit.name)).toEqual(all);
    expect(writers(bindings, Topics.dlq.name)).toEqual(all);
    expect(writers(bindings, Topics.erasure.name)).toEqual(all);
  });

  it('grants the groups the services use: configured ids with their derived groups, and the control readers', () => {
    const bindings = aclBindings(topicAccess({ groupIds: { alerting: 'hr-alerting' } }));
    const groups = (p: string) =>
      bindings
        .filter((b) => b.resourceType === 'group' && b.principal === p)
        .map((b) => `${b.operation} ${b.patternType} ${b.resourceName}`)
        .sort();
    expect(groups('User:alerting')).toEqual(['read literal hr-alerting', 'read prefixed alerting-control-', 'read prefixed hr-alerting-']);
    expect(groups('User:control')).toEqual(['read literal control-audit', 'read literal control-erasure', 'read prefixed control-control-']);
    expect(groups('User:collectors')).toEqual(['read prefixed collectors-control-']);
  });

  it('user names are configurable; bindings carry them as principals', () => {
    const bindings = aclBindings(topicAccess({ users: { control: 'hr-control' } }));
    expect(writers(bindings, Topics.control.name)).toEqual(['User:hr-control']);
  });

  it('lag groups give the collectors DESCRIBE (not READ) on groups and on every registry topic', () => {
    const bindings = aclBindings(topicAccess({ lagGroups: ['*', 'analytics*'] }));
    const collectors = bindings.filter((b) => b.principal === 'User:collectors' && b.operation === 'describe');
    expect(collectors.filter((b) => b.resourceType === 'group').map((b) => `${b.patternType} ${b.resourceName}`)).toEqual(['literal *', 'prefixed analytics']);
    expect(collectors.filter((b) => b.resourceType === 'topic').map((b) => b.resourceName).sort()).toEqual(Object.values(Topics).map((t) => t.name).sort());
    expect(aclBindings(topicAccess()).some((b) => b.operation === 'describe')).toBe(false);
  });

  it('bindings are unique', () => {
    const keys = aclBindings(topicAccess()).map(aclBindingKey);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('refuses a group id that lets one service join another service’s groups', () => {
    expect(() => topicAccess({ groupIds: { analytics: 'control' } })).toThrow(/analytics and control could both join group "control-audit"/);
    expect(() => topicAccess({ groupIds: { exporters: 'alerting' } })).toThrow(/alerting and exporters could both join group "alerting"/);
  });

  it('refuses two services with one user, and a user name that is no principal', () => {
    expect(() => topicAccess({ users: { analytics: 'headroom', exporters: 'headroom' } })).toThrow(/share the principal User:headroom/);
    expect(() => topicAccess({ users: { control: 'a b' } })).toThrow(/control: principal "User:a b" is not User:<name>/);
  });

  it('flags a table where another service writes the control topic', () => {
    const table = topicAccess().map((a): ServiceAccess => (a.service === 'exporters' ? { ...a, produces: [...a.produces, Topics.control.name] } : a));
    expect(topicAccessProblems(table)).toEqual([`exporters may not produce to ${Topics.control.name}`]);
  });
});
