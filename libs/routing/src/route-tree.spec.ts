import { compileRoutes, RouteConfigError } from './route-tree';

const receivers = (tree: ReturnType<typeof compileRoutes>, labels: Record<string, string>) => tree.match(labels).map((r) => r.receiver);

describe('compileRoutes', () => {
  const tree = compileRoutes({
    receiver: 'default',
    group_by: ['alertname'],
    escalation: 'standard',
    routes: [
      {
        matchers: ['team="db"'],
        receiver: 'db-pager',
        group_wait: '10s',
        locale: 'de-DE',
        routes: [
          { matchers: ['severity="critical"'], receiver: 'db-oncall', continue: true },
          { matchers: ['severity=~"critical|warning"'], group_by: ['...'] },
        ],
      },
      { matchers: ['team=~"web|api"'], receiver: 'web', continue: true, repeat_interval: '1h' },
      { matchers: ['env!="prod"'], receiver: 'sandbox' },
      { matchers: ['severity="page"'], receiver: 'never-reached-for-prod-after-sandbox' },
    ],
  });

  it('falls through to the root when no child matches', () => {
    expect(tree.match({ env: 'prod', team: 'other' }).map((r) => [r.routeId, r.receiver])).toEqual([['0', 'default']]);
  });

  it('stops at the first matching child unless it continues', () => {
    expect(receivers(tree, { env: 'prod', team: 'db' })).toEqual(['db-pager']);
    expect(receivers(tree, { env: 'dev', team: 'db' })).toEqual(['db-pager']);
    expect(receivers(tree, { env: 'dev', team: 'web' })).toEqual(['web', 'sandbox']);
    expect(receivers(tree, { env: 'prod', team: 'api', severity: 'page' })).toEqual(['web', 'never-reached-for-prod-after-sandbox']);
  });

  it('continues past a matching child with continue, and a deeper node wins over its parent', () => {
    const ms = tree.match({ env: 'prod', team: 'db', severity: 'critical' });
    expect(ms.map((r) => [r.routeId, r.receiver])).toEqual([
      ['0.0.0', 'db-oncall'],
      ['0.0.1', 'db-pager'],
    ]);
  });

  it('inherits receiver, grouping, timers, escalation and locale unless set', () => {
    const [oncall, pager] = tree.match({ team: 'db', severity: 'critical', env: 'prod' });
    expect(oncall).toMatchObject({ groupBy: ['alertname'], groupByAll: false, groupWait: 10_000, groupInterval: 300_000, repeatInterval: 4 * 3600_000, escalation: 'standard', locale: 'de-DE' });
    expect(pager).toMatchObject({ receiver: 'db-pager', groupByAll: true, groupBy: [], groupWait: 10_000 });
    const [web] = tree.match({ team: 'web', env: 'prod' });
    expect(web).toMatchObject({ routeId: '0.1', groupWait: 30_000, repeatInterval: 3600_000, escalation: 'standard' });
    expect(web?.locale).toBeUndefined();
  });

  it('finds a node again by its routeId', () => {
    expect(tree.route('0.0.1')?.receiver).toBe('db-pager');
    expect(tree.route('0.9')).toBeUndefined();
  });

  it('groups by the route and the grouping labels only', () => {
    const [root] = tree.match({ team: 'x', env: 'prod' });
    const key = root!.groupKeyFor({ alertname: 'DiskFull', instance: 'a', env: 'prod' });
    expect(root!.groupKeyFor({ alertname: 'DiskFull', instance: 'b', env: 'prod' })).toBe(key);
    expect(root!.groupKeyFor({ alertname: 'CpuHigh', instance: 'a', env: 'prod' })).not.toBe(key);
    expect(root!.groupLabelsFor({ alertname: 'DiskFull', instance: 'a' })).toEqual({ alertname: 'DiskFull' });
    // The same labels on another route are another group.
    const [web] = tree.match({ team: 'web', env: 'prod' });
    expect(web!.groupKeyFor({ alertname: 'DiskFull' })).not.toBe(root!.groupKeyFor({ alertname: 'DiskFull' }));
  });

  it('groups by every label with `...`, whatever their order', () => {
    const [, all] = tree.match({ team: 'db', severity: 'critical', env: 'prod' });
    expect(all!.groupKeyFor({ a: '1', b: '2' })).toBe(all!.groupKeyFor({ b: '2', a: '1' }));
    expect(all!.groupKeyFor({ a: '1', b: '2' })).not.toBe(all!.groupKeyFor({ a: '1', b: '3' }));
    expect(all!.groupLabelsFor({ b: '2', a: '1' })).toEqual({ a: '1', b: '2' });
  });

  it('keeps group keys stable across compilations (they outlive a process)', () => {
    const again = compileRoutes({ receiver: 'default', group_by: ['alertname'] });
    expect(again.root.groupKeyFor({ alertname: 'X' })).toBe(compileRoutes({ receiver: 'other', group_by: ['alertname'] }).root.groupKeyFor({ alertname: 'X' }));
    expect(again.root.groupKeyFor({ alertname: 'X' })).toMatch(/^[0-9a-f]{32}$/);
  });

  it("applies Alertmanager's defaults at the root and groups everything together without group_by", () => {
    const t = compileRoutes({ receiver: 'r' });
    expect(t.root).toMatchObject({ groupWait: 30_000, groupInterval: 300_000, repeatInterval: 14_400_000, groupBy: [] });
    expect(t.root.groupKeyFor({ a: '1' })).toBe(t.root.groupKeyFor({ a: '2' }));
  });

  it('refuses what it cannot compile, naming the route', () => {
    expect(() => compileRoutes({})).toThrow(RouteConfigError);
    expect(() => compileRoutes({ receiver: 'r', routes: [{}, { matchers: ['a=~"("'] }] })).toThrow(/route 0\.1/);
    expect(() => compileRoutes({ receiver: 'r', routes: [{ group_wait: 'soon' }] })).toThrow(/route 0\.0: group_wait/);
  });
});
