import { BadRequestException } from '@nestjs/common';
import { AlertConfigBodySchema, CreateTenantBodySchema, parseRequestBody, type RequestIssue } from './tenants.dto';

describe('alert config body', () => {
  it('accepts anomaly paging, filling in its defaults', () => {
    expect(AlertConfigBodySchema.parse({ anomalies: {} })).toEqual({ rules: [], anomalies: { minScore: 0.8, severity: 'warning' } });
    const body = CreateTenantBodySchema.parse({ id: 'label-nova', displayName: 'Nova', alerting: { anomalies: { minScore: 0.9, metrics: ['api_latency_ms'] } } });
    expect(body.alerting?.anomalies).toEqual({ minScore: 0.9, severity: 'warning', metrics: ['api_latency_ms'] });
  });

  it('leaves anomaly paging off when absent', () => {
    expect(AlertConfigBodySchema.parse({ rules: [] }).anomalies).toBeUndefined();
  });

  it('rejects a bad anomalies block, naming each field', () => {
    const res = AlertConfigBodySchema.safeParse({ anomalies: { minScore: 2, severity: 'loud', metrics: ['a-b'], extra: 1 } });
    expect(res.success).toBe(false);
    if (!res.success) {
      const paths = res.error.issues.map((i) => i.path.join('.'));
      expect(paths).toEqual(expect.arrayContaining(['anomalies.minScore', 'anomalies.severity', 'anomalies.metrics.0', 'anomalies']));
    }
  });
});

/** A config as a team would paste it: expression rules and an Alertmanager-shaped tree, every default written out. */
const fullConfig = () => ({
  rules: [{ id: 'legacy-latency', metric: 'api_latency_ms', stat: 'p95', op: '>', threshold: 250, severity: 'warning' }],
  alertRules: [
    { id: 'search-latency', expr: 'p95(api_latency_ms{endpoint="/search"}) > 250', for: '5m', keepFiringFor: '10m', resolveThreshold: 200, severity: 'critical' },
    {
      id: 'error-ratio',
      expr: 'sum by (endpoint) (sum(errors)) / sum by (endpoint) (sum(requests)) > 0.05',
      severity: 'warning',
      labels: { team: 'api' },
      annotations: { summary: 'errors above 5%' },
      runbookUrl: 'https://runbooks.example.com/error-ratio',
    },
  ],
  routing: {
    route: {
      receiver: 'team-slack',
      group_by: ['alertname'],
      routes: [{ matchers: ['severity="critical"'], receiver: 'oncall-pager', escalation: 'standard' }],
    },
    receivers: [
      { name: 'team-slack', slack_configs: [{ channel: '#api-alerts', bot_token: 'xoxb-not-a-real-token' }] },
      { name: 'oncall-pager', pagerduty_configs: [{ routing_key: 'r0ut1ngk3y' }], failover: 'team-slack' },
    ],
    inhibit_rules: [{ source_matchers: ['severity="critical"'], target_matchers: ['severity="warning"'], equal: ['alertname'] }],
    escalations: [{ name: 'standard', steps: [{ receivers: ['oncall-pager'], after: '0s' }, { receivers: ['team-slack'], after: '15m' }], repeat: 1 }],
  },
  templates: { 'alert.firing.title': '{severity} alert {alertname}' },
});

const issuesOf = (body: unknown) => {
  const res = AlertConfigBodySchema.safeParse(body);
  return res.success ? [] : res.error.issues;
};

/** The 400 body the endpoint answers for `body`. */
function rejection(body: unknown): { error: string; issues: RequestIssue[] } {
  try {
    parseRequestBody(AlertConfigBodySchema, body);
  } catch (err) {
    expect(err).toBeInstanceOf(BadRequestException);
    return (err as BadRequestException).getResponse() as { error: string; issues: RequestIssue[] };
  }
  throw new Error('the body was accepted');
}

describe('alert config body: expression rules and routing', () => {
  it('accepts a full config and keeps every field as written', () => {
    const config = fullConfig();
    expect(parseRequestBody(AlertConfigBodySchema, config)).toEqual(config);
  });

  it('answers a syntax error with the rule path, line, column of the culprit, reason and a caret under it', () => {
    const expr = 'p95(api_latency_ms{endpoint="/search"} > 250';
    const config = fullConfig();
    config.alertRules.push({ id: 'r2', expr: 'avg(x) > 1' } as never, { id: 'r3', expr } as never);
    const { error, issues } = rejection(config);
    expect(error).toBe('invalid_request');
    const column = expr.indexOf('>') + 1;
    expect(issues).toEqual([
      {
        path: 'alertRules.3.expr',
        message: `1:${column}: expected ')', found '>'`,
        line: 1,
        column,
        reason: "expected ')', found '>'",
        detail: `  ${expr}\n  ${' '.repeat(column - 1)}^`,
      },
    ]);
  });

  it('lists every problem of the body, each with its own path', () => {
    const config = fullConfig();
    config.alertRules[0]!.expr = 'p95(api_latency_ms) >';
    config.alertRules[1]!.resolveThreshold = 0.1; // `> 0.05` fires above 0.05: a resolve threshold must lie below it
    config.routing.route.routes[0]!.receiver = 'nobody';
    const paths = rejection({ ...config, slackChannel: 'not a channel!' }).issues.map((i) => i.path);
    expect(paths.sort()).toEqual(['alertRules.0.expr', 'alertRules.1.resolveThreshold', 'routing.route.routes.0.receiver', 'slackChannel'].sort());
  });

  it('refuses a route or escalation step naming an unknown receiver, at its path', () => {
    const config = fullConfig();
    config.routing.route.routes[0]!.receiver = 'pager-typo';
    config.routing.escalations[0]!.steps[1]!.receivers = ['slack-typo'];
    expect(rejection(config).issues).toEqual(
      expect.arrayContaining([
        { path: 'routing.route.routes.0.receiver', message: 'undefined receiver "pager-typo"' },
        { path: 'routing.escalations.0.steps.1.receivers.0', message: 'undefined receiver "slack-typo"' },
      ]),
    );
  });

  it('refuses a duplicate rule id, legacy and expression rules sharing one id space, at the second one', () => {
    const config = fullConfig();
    config.alertRules[1]!.id = 'legacy-latency';
    expect(rejection(config).issues).toEqual([{ path: 'alertRules.1.id', message: 'duplicate rule id "legacy-latency" (also rules.0.id)' }]);
    const twice = fullConfig();
    twice.alertRules[1]!.id = 'search-latency';
    expect(rejection(twice).issues).toEqual([{ path: 'alertRules.1.id', message: 'duplicate rule id "search-latency" (also alertRules.0.id)' }]);
  });

  it('refuses fields the contract does not know, in rules and in the tree', () => {
    const config = fullConfig();
    const paths = issuesOf({
      ...config,
      alertRules: [{ ...config.alertRules[0], keep_firing_for: '5m' }],
      routing: { ...config.routing, route: { ...config.routing.route, match: { severity: 'critical' } } },
    }).map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(paths).toEqual(expect.arrayContaining([expect.stringMatching(/^alertRules\.0: .*keep_firing_for/), expect.stringMatching(/^routing\.route: .*match/)]));
  });

  it('refuses the redaction placeholder sent back as a secret, at its path (stored secrets are never returned)', () => {
    const config = fullConfig();
    config.routing.receivers[1]!.pagerduty_configs![0]!.routing_key = '***';
    expect(rejection(config).issues).toEqual([{ path: 'routing.receivers.1.pagerduty_configs.0.routing_key', message: expect.stringContaining('send the secret itself') }]);
  });

  it('checks expression rules given at tenant creation too', () => {
    const res = CreateTenantBodySchema.safeParse({ id: 'label-nova', displayName: 'Nova', alerting: { alertRules: [{ id: 'a', expr: 'p99(x) >' }] } });
    expect(res.success).toBe(false);
    if (!res.success) expect(res.error.issues.map((i) => i.path.join('.'))).toEqual(['alerting.alertRules.0.expr']);
  });
});
