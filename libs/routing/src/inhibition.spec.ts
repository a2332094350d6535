import { compileInhibitRules, findInhibition, isInhibited } from './inhibition';

describe('isInhibited', () => {
  const rules = compileInhibitRules([{ source_matchers: ['severity="critical"'], target_matchers: ['severity="warning"'], equal: ['alertname', 'cluster'] }]);

  it('mutes a target while a matching source fires with equal labels', () => {
    const target = { alertname: 'Disk', cluster: 'eu', severity: 'warning' };
    expect(isInhibited(target, [{ alertname: 'Disk', cluster: 'eu', severity: 'critical' }], rules)).toBe(true);
    expect(isInhibited(target, [{ alertname: 'Disk', cluster: 'us', severity: 'critical' }], rules)).toBe(false);
    expect(isInhibited(target, [{ alertname: 'Disk', cluster: 'eu', severity: 'warning' }], rules)).toBe(false);
    expect(isInhibited(target, [], rules)).toBe(false);
  });

  it('counts a label missing on both sides as equal, and missing on one side as different', () => {
    expect(isInhibited({ alertname: 'Disk', severity: 'warning' }, [{ alertname: 'Disk', severity: 'critical' }], rules)).toBe(true);
    expect(isInhibited({ alertname: 'Disk', severity: 'warning' }, [{ alertname: 'Disk', cluster: 'eu', severity: 'critical' }], rules)).toBe(false);
  });

  it('does not mute an alert matching neither target matchers', () => {
    expect(isInhibited({ alertname: 'Disk', severity: 'info' }, [{ alertname: 'Disk', severity: 'critical' }], rules)).toBe(false);
  });

  it('never lets an alert matching both sides mute itself or its like', () => {
    const both = compileInhibitRules([{ source_matchers: ['team="db"'], target_matchers: ['team="db"'], equal: ['cluster'] }]);
    const a = { alertname: 'A', team: 'db', cluster: 'eu' };
    expect(isInhibited(a, [a], both)).toBe(false);
    expect(isInhibited(a, [{ alertname: 'B', team: 'db', cluster: 'eu' }], both)).toBe(false);
  });

  it('lets a source that is not a target mute a two-sided target', () => {
    const r = compileInhibitRules([{ source_matchers: ['alertname=~"Down|Disk"'], target_matchers: ['alertname="Disk"'] }]);
    expect(findInhibition({ alertname: 'Disk' }, [{ alertname: 'Disk' }, { alertname: 'Down' }], r)).toEqual({ ruleIndex: 0, source: { alertname: 'Down' } });
  });

  it('tells which rule mutes', () => {
    const two = compileInhibitRules([
      { source_matchers: ['alertname="NodeDown"'], target_matchers: ['alertname="Other"'] },
      { source_matchers: ['alertname="NodeDown"'], target_matchers: ['alertname!="NodeDown"'], equal: ['node'] },
    ]);
    expect(findInhibition({ alertname: 'Cpu', node: 'n1' }, [{ alertname: 'NodeDown', node: 'n1' }], two)?.ruleIndex).toBe(1);
  });
});
