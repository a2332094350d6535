// AlertRoutingSchema lives in @headroom/contracts; its rules are routing's, so they are held here.
import { AlertRoutingSchema, MAX_ROUTE_NODES, type AlertRouteConfig } from '@headroom/contracts';

const receivers = [{ name: 'default' }, { name: 'db', slack_configs: [{ channel: '#db' }] }, { name: 'pager', failover: 'db' }];
const issues = (cfg: unknown) => {
  const r = AlertRoutingSchema.safeParse(cfg);
  return r.success ? [] : r.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
};

describe('AlertRoutingSchema', () => {
  const good = {
    route: {
      receiver: 'default',
      group_by: ['alertname', 'cluster'],
      escalation: 'standard',
      routes: [{ matchers: ['team="db"', 'severity=~"critical|warning"'], receiver: 'db', continue: true, locale: 'de-DE', routes: [{ matchers: ['env!=dev'], receiver: 'pager', group_by: ['...'], repeat_interval: '1h' }] }],
    },
    receivers,
    inhibit_rules: [{ source_matchers: ['severity="critical"'], target_matchers: ['severity="warning"'], equal: ['alertname'] }],
    escalations: [{ name: 'standard', steps: [{ receivers: ['db'], after: '0' }, { receivers: ['pager', 'default'], after: '15m' }], repeat: 2 }],
  };

  it('accepts a full config and fills the defaults', () => {
    expect(issues(good)).toEqual([]);
    const parsed = AlertRoutingSchema.parse({ route: { receiver: 'default' }, receivers });
    expect(parsed.inhibit_rules).toEqual([]);
    expect(parsed.escalations).toEqual([]);
  });

  it.each([
    ['an unknown receiver on a route', { ...good, route: { receiver: 'default', routes: [{}, { receiver: 'nobody' }] } }, 'route.routes.1.receiver', /undefined receiver "nobody"/],
    ['an unknown root receiver', { ...good, route: { receiver: 'nobody' } }, 'route.receiver', /undefined receiver/],
    ['an unknown failover', { ...good, receivers: [{ name: 'default', failover: 'gone' }] }, 'receivers.0.failover', /undefined receiver "gone"/],
    ['a failover loop', { ...good, receivers: [{ name: 'default', failover: 'db' }, { name: 'db', failover: 'default' }, { name: 'pager' }] }, 'receivers.0.failover', /comes back/],
    ['an unknown receiver in an escalation', { ...good, escalations: [{ name: 'standard', steps: [{ receivers: ['db', 'ghost'], after: '5m' }] }] }, 'escalations.0.steps.0.receivers.1', /ghost/],
    ['an unknown escalation', { ...good, route: { receiver: 'default', routes: [{ escalation: 'nope' }] } }, 'route.routes.0.escalation', /undefined escalation/],
    ['duplicate receiver names', { ...good, receivers: [...receivers, { name: 'db' }] }, 'receivers.3.name', /duplicate receiver name "db"/],
    ['a bad matcher, pointing at its index', { ...good, route: { receiver: 'default', routes: [{ matchers: ['a="1"', 'b=~"("', 'c'] }] } }, 'route.routes.0.matchers.1', /invalid regular expression/],
    ['an unterminated quote', { ...good, inhibit_rules: [{ source_matchers: ['a="1'], target_matchers: [] }] }, 'inhibit_rules.0.source_matchers.0', /double quote/],
    ['root matchers', { ...good, route: { receiver: 'default', matchers: ['a="1"'] } }, 'route.matchers', /must not have matchers/],
    ['root continue', { ...good, route: { receiver: 'default', continue: true } }, 'route.continue', /continue/],
    ['a root without receiver', { ...good, route: {} }, 'route.receiver', /needs a receiver/],
    ['a bad duration', { ...good, route: { receiver: 'default', group_wait: '30 seconds' } }, 'route.group_wait', /duration/],
    ['a zero repeat_interval', { ...good, route: { receiver: 'default', routes: [{ repeat_interval: '0' }] } }, 'route.routes.0.repeat_interval', /cannot be zero/],
    ['`...` with label names', { ...good, route: { receiver: 'default', group_by: ['...', 'a'] } }, 'route.group_by', /cannot be combined/],
    ['a bad locale', { ...good, route: { receiver: 'default', locale: 'not a locale' } }, 'route.locale', /BCP 47/],
    ["Alertmanager's match map (not supported: it would be ignored)", { ...good, route: { receiver: 'default', routes: [{ match: { a: '1' } }] } }, 'route.routes.0', /match/],
    ['escalation repeat over 10', { ...good, escalations: [{ ...good.escalations[0], repeat: 11 }] }, 'escalations.0.repeat', /10/],
  ])('refuses %s', (_name, cfg, path, message) => {
    const found = issues(cfg);
    expect(found.map((i) => i.path)).toContain(path);
    expect(found.find((i) => i.path === path)?.message).toMatch(message);
  });

  it(`bounds the tree: depth 10 and ${MAX_ROUTE_NODES} nodes`, () => {
    const chain = (depth: number): AlertRouteConfig => (depth === 1 ? {} : { routes: [chain(depth - 1)] });
    expect(issues({ route: { receiver: 'default', ...chain(10) }, receivers })).toEqual([]);
    expect(issues({ route: { receiver: 'default', ...chain(11) }, receivers })).toEqual([{ path: 'route.routes.0.routes.0.routes.0.routes.0.routes.0.routes.0.routes.0.routes.0.routes.0.routes.0', message: expect.stringMatching(/10 levels/) }]);
    const wide = { receiver: 'default', routes: Array.from({ length: MAX_ROUTE_NODES }, () => ({})) };
    expect(issues({ route: wide, receivers })).toEqual([{ path: 'route', message: expect.stringMatching(/201 nodes/) }]);
  });
});
