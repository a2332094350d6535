/**
 * The dispatcher end to end on the real Kafka, PostgreSQL and Redis: sealed aggregate windows in,
 * notifications out through the outbox to local servers speaking the providers' APIs (webhook
 * receivers verifying Headroom's signature, a PagerDuty Events v2 server). Each case has its own
 * tenants; they share one alerting instance, as tenants do in production.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import pino from 'pino';
import { Pool } from 'pg';
import { Registry } from 'prom-client';
import { AggregateBatchMessage, ControlRecordMessage, controlKey, DlqRecordMessage, Topics, type AggregateWindow, type AlertRoutingInput, type ControlRecord, type DlqRecord, type ThresholdRule, type AlertRule, type AlertRuleInput } from '@headroom/contracts';
import { createWrappedKey, KeyEncryptionKey, TenantKeyring } from '@headroom/crypto';
import { createKafkaClient, decodeRecord, readRawRecords, RecordPublisher } from '@headroom/kafka';
import { createLogger } from '@headroom/runtime';
import { generateApiKey } from '@headroom/tenancy';
import { loadConfig } from '@headroom/config';
import { expectEventually, PagerDutyMock, silentLogger, SlackMock, testInfra, uniqueId, WebhookReceiver, type PagerDutyEventRecord, controlTrust } from '@headroom/testing';
import { AppModule } from '../app.module';
import { alertingEnvSchema } from '../config';
import { verifyWebhookSignature, SIGNATURE_HEADER, TIMESTAMP_HEADER } from '../channels/webhook/webhook.channel';
import { DispatchRepository } from './dispatch.repository';

const infra = testInfra();
const kekBase64 = randomBytes(32).toString('base64');
const kekId = `kek-${randomBytes(4).toString('hex')}`;
const kek = KeyEncryptionKey.fromBase64(kekBase64, kekId);
const LOG_DIR = resolve(__dirname, '../../../../tmp/test-logs');
const at = new Date().toISOString();
const SECRET = 'whsec-0123456789abcdef';
const TENANT_BOT = `xoxb-${randomBytes(12).toString('hex')}`;
const SIGNING_SECRET = randomBytes(16).toString('hex');
const ROUTING_KEY = 'R0123456789abcdef0123456789abcde'.slice(0, 32);
// Windows from a little in the past, so the instants are ordinary closed windows.
const t0 = Math.floor(Date.now() / 10_000) * 10_000 - 300_000;

const lat = (route: string, i: number, p95: number, severity?: string): AggregateWindow => ({
  series: { name: 'api_latency_ms', labels: { route, ...(severity ? { tier: severity } : {}) } },
  seriesId: `lat-${route}-${severity ?? ''}`.replace(/[^a-z0-9-]/gi, ''),
  windowStart: t0 + i * 10_000,
  windowMs: 10_000,
  count: 20,
  sum: 20 * p95,
  min: 1,
  max: p95 * 2,
  p50: p95 / 2,
  p95,
  p99: p95 * 1.5,
});

function verifier(secret = SECRET) {
  return (r: { headers: Record<string, string | string[] | undefined>; body: Buffer }) => {
    const ok = verifyWebhookSignature({ secret, timestamp: String(r.headers[TIMESTAMP_HEADER.toLowerCase()] ?? ''), body: r.body.toString('utf8'), signature: String(r.headers[SIGNATURE_HEADER.toLowerCase()] ?? '') });
    return ok ? { ok: true as const } : { ok: false as const, reason: 'bad signature' };
  };
}

const payloadOf = (d: { body: Buffer }) => JSON.parse(d.body.toString('utf8')) as { status: string; alerts: { labels: Record<string, string>; status: string }[]; headroom: { tenant: string; reason: string } };

describe('alert dispatch (Kafka, PostgreSQL, Redis, provider servers)', () => {
  const kafka = createKafkaClient({ brokers: infra.brokers, clientId: 'dispatch-int-spec', logger: silentLogger() });
  const keyring = new TenantKeyring(kek);
  const control = new RecordPublisher(kafka, undefined, undefined, { signer: controlTrust().signer });
  const data = new RecordPublisher(kafka, keyring, undefined, { signer: controlTrust().signer });
  const pool = new Pool({ connectionString: infra.databaseUrl, max: 2 });
  const pagerduty = new PagerDutyMock();
  const slack = new SlackMock(TENANT_BOT);
  const receivers: WebhookReceiver[] = [];
  let app: NestFastifyApplication;
  let url = '';
  let metrics: Registry;
  const keys = new Map<string, string>();

  const hook = async (v = verifier()) => {
    const r = new WebhookReceiver({ verify: v });
    await r.start();
    receivers.push(r);
    return r;
  };

  /** A tenant with its data key, an admin API key and the given alert config. */
  async function tenantWith(prefix: string, alerting: { rules?: ThresholdRule[]; alertRules?: AlertRuleInput[]; routing: AlertRoutingInput }) {
    const tenant = uniqueId(prefix);
    const key = createWrappedKey(kek, tenant, 'data', 1);
    keyring.add(key);
    const apiKey = generateApiKey();
    keys.set(tenant, apiKey.secret);
    const records: ControlRecord[] = [
      { kind: 'tenant', tenant, displayName: tenant, status: 'active', shards: 1, locale: 'en', createdAt: at },
      { kind: 'data_key', ...key, state: 'active' },
      { kind: 'api_key', keyId: apiKey.keyId, tenant, secretHash: apiKey.secretHash, scopes: ['admin'], createdAt: at },
      {
        kind: 'alert_config',
        tenant,
        rules: alerting.rules ?? [{ id: 'HighLatency', metric: 'api_latency_ms', stat: 'p95', op: '>', threshold: 250, severity: 'critical' }],
        ...(alerting.alertRules ? { alertRules: alerting.alertRules as AlertRule[] } : {}),
        routing: alerting.routing as never,
        updatedAt: at,
      },
    ];
    await control.publish(ControlRecordMessage, records.map((value) => ({ key: controlKey(value), value })));
    // Alerting reads the control topic on its own: wait until it knows the tenant's key.
    await expectEventually(async () => expect((await api('/v1/alert-groups', tenant)).status).toBe(200));
    return tenant;
  }

  const publish = (tenant: string, windows: AggregateWindow[]) => data.publish(AggregateBatchMessage, [{ tenant, value: { windows } }]);
  const api = (path: string, tenant: string | undefined, init: RequestInit = {}) =>
    fetch(`${url}${path}`, { ...init, headers: { ...(init.body ? { 'content-type': 'application/json' } : {}), ...(tenant ? { authorization: `Bearer ${keys.get(tenant)}` } : {}), ...(init.headers ?? {}) } });
  const webhookRoute = (receiverUrl: string, extra: Partial<AlertRoutingInput['route']> = {}): AlertRoutingInput => ({
    route: { receiver: 'hook', group_by: ['alertname'], group_wait: '1s', group_interval: '2s', repeat_interval: '1h', ...extra },
    receivers: [{ name: 'hook', webhook_configs: [{ url: receiverUrl, secret: SECRET }] }],
  });
  const outbox = async (tenant: string) =>
    (await pool.query<{ receiver: string; status: string; attempts: number; last_error: string | null }>('select receiver, status, attempts, last_error from alerting.outbox where tenant = $1 order by id', [tenant])).rows;

  beforeAll(async () => {
    mkdirSync(LOG_DIR, { recursive: true });
    await pagerduty.start();
    await slack.start();
    const groupId = uniqueId('dispatch-int');
    // A brand-new dispatch group starts at the end of the alerts topic when it joins: pinned at the
    // end now, so no transition published between the boot and the join is skipped.
    const admin = kafka.admin();
    await admin.connect();
    const ends = await admin.fetchTopicOffsets(Topics.alerts.name);
    await admin.setOffsets({ groupId: `${groupId}-dispatch`, topic: Topics.alerts.name, partitions: ends.map((p) => ({ partition: p.partition, offset: p.high })) });
    await admin.disconnect();
    await control.connect();
    await data.connect();
    const config = loadConfig(alertingEnvSchema, {
      KAFKA_BROKERS: infra.brokers.join(','),
      REDIS_URL: infra.redisUrl,
      DATABASE_URL: infra.databaseUrl,
      HEADROOM_KEK: kekBase64, ...controlTrust().env,
      HEADROOM_KEK_ID: kekId,
      SLACK_TOKEN: 'xoxb-unused',
      PAGERDUTY_EVENTS_URL: pagerduty.url(),
      SLACK_API_URL: slack.url(),
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      ALERTING_GROUP_ID: groupId,
      ALERTING_EGRESS_ALLOW: '127.0.0.0/8',
      ALERTING_SETTLE_MS: '200',
      ALERTING_MAX_ATTEMPTS: '4',
      ALERTING_BACKOFF_BASE_MS: '200',
      ALERTING_BACKOFF_MAX_MS: '1000',
      PORT: '0',
    });
    metrics = new Registry();
    const logger = createLogger('alerting', 'info', pino.destination({ dest: join(LOG_DIR, 'dispatch-int.log'), sync: true }));
    app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config, logger, metrics), new FastifyAdapter(), { logger: false, abortOnError: false });
    await app.listen(0, '127.0.0.1');
    url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
    await expectEventually(async () => expect((await fetch(`${url}/readyz`)).status).toBe(200), { timeoutMs: 60_000 });
  });

  afterAll(async () => {
    await app?.close();
    await control.disconnect();
    await data.disconnect();
    await pagerduty.stop();
    await slack.stop();
    for (const r of receivers) await r.stop();
    await pool.end();
  });

  it("one tenant's dead receiver does not delay another tenant's page; it retries, fails over and ends in the DLQ", async () => {
    const dead = await hook();
    dead.answerNext(1_000, 503);
    const backup = await hook();
    const healthy = await hook();
    const tenantA = await tenantWith('dead-a', {
      routing: {
        route: { receiver: 'primary', group_by: ['alertname'], group_wait: '0s', group_interval: '5s', repeat_interval: '1h' },
        receivers: [
          { name: 'primary', webhook_configs: [{ url: dead.url(), secret: SECRET }], failover: 'backup' },
          { name: 'backup', webhook_configs: [{ url: backup.url(), secret: SECRET }] },
        ],
      },
    });
    const tenantB = await tenantWith('ok-b', { routing: webhookRoute(healthy.url(), { group_wait: '0s' }) });
    // A fires first and keeps failing; B fires after.
    await publish(tenantA, [lat('/play', 0, 400), lat('/play', 1, 400)]);
    await expectEventually(() => expect(dead.deliveries.length).toBeGreaterThanOrEqual(1), { timeoutMs: 20_000 });
    await publish(tenantB, [lat('/play', 0, 400), lat('/play', 1, 400)]);
    const [page] = await expectEventually(() => {
      expect(healthy.accepted()).toHaveLength(1);
      return healthy.accepted();
    }, { timeoutMs: 20_000 });
    expect(payloadOf(page!).headroom.tenant).toBe(tenantB);
    // A's receiver was still being retried when B's page arrived: B never waited for it.
    const aRows = await outbox(tenantA);
    expect(aRows.find((r) => r.receiver === 'primary')?.status).not.toBe('sent');

    // A: retried with backoff, failed over to its backup after 3 attempts, then dead after 4, with a DLQ record.
    await expectEventually(async () => expect((await outbox(tenantA)).find((r) => r.receiver === 'primary')?.status).toBe('dead'), { timeoutMs: 30_000 });
    expect(dead.deliveries.length).toBe(4);
    await expectEventually(() => expect(backup.accepted()).toHaveLength(1));
    expect(payloadOf(backup.accepted()[0]!).headroom.tenant).toBe(tenantA);
    const dlq = await readRawRecords(kafka, Topics.dlq.name, { filter: (r) => r.key === `${tenantA}/primary`, until: (rs) => rs.length >= 1, timeoutMs: 20_000 });
    const record = decodeRecord(Topics.dlq.name, dlq[0]!.key, dlq[0]!.value, dlq[0]!.headers, new Set([DlqRecordMessage.id]), keyring);
    expect(record.ok && (record.value as DlqRecord).code).toBe('notification_exhausted');
    // Nothing of A's reached B's receiver, nor the other way round.
    expect(healthy.deliveries.every((d) => payloadOf(d).headroom.tenant === tenantB)).toBe(true);
    expect([...dead.deliveries, ...backup.deliveries].every((d) => payloadOf(d).headroom.tenant === tenantA)).toBe(true);
  });

  it('expression rules through the pipeline: pending for `for`, firing, held by hysteresis, resolved below the resolve threshold; absence fires and clears', async () => {
    const r = await hook();
    const tenant = await tenantWith('lifecycle', {
      rules: [],
      alertRules: [
        { id: 'SlowPlay', expr: 'p95(api_latency_ms{route="/play"}) > 250', for: '20s', resolveThreshold: 200, severity: 'critical' },
        { id: 'NoHeartbeat', expr: 'absent(heartbeat{service="api"})', severity: 'warning' },
      ],
      routing: webhookRoute(r.url(), { group_wait: '0s', group_interval: '1s' }),
    });
    const reasons = (name: string) => r.accepted().map(payloadOf).filter((b) => b.alerts[0]!.labels['alertname'] === name).map((b) => b.status);
    const heartbeat = (i: number): AggregateWindow => ({ ...lat('/hb', i, 1), series: { name: 'heartbeat', labels: { service: 'api' } }, seriesId: 'hb-api' });
    // Instants 0 and 1 breach: pending (activeAt t0), not yet 20 s. No heartbeat: absence fires at once.
    await publish(tenant, [lat('/play', 0, 300), lat('/play', 1, 300)]);
    await expectEventually(() => expect(reasons('NoHeartbeat')).toEqual(['firing']), { timeoutMs: 20_000 });
    expect((await pool.query(`select state from alerting.alerts where tenant = $1 and labels->>'alertname' = 'SlowPlay'`, [tenant])).rows).toEqual([{ state: 'pending' }]);
    expect(reasons('SlowPlay')).toEqual([]);
    // Instant 2 still breaches (20 s since t0): firing. Instant 3 at 240 is under 250 but above the
    // resolve threshold 200: still firing. The heartbeat is back: absence resolves.
    await publish(tenant, [lat('/play', 2, 300), heartbeat(2), lat('/play', 3, 240), heartbeat(3), lat('/play', 4, 240), heartbeat(4)]);
    await expectEventually(() => expect(reasons('SlowPlay')).toEqual(['firing']), { timeoutMs: 20_000 });
    await expectEventually(() => expect(reasons('NoHeartbeat')).toEqual(['firing', 'resolved']), { timeoutMs: 20_000 });
    await new Promise((res) => setTimeout(res, 1_500));
    expect(reasons('SlowPlay')).toEqual(['firing']);
    // Under the resolve threshold: resolved.
    await publish(tenant, [lat('/play', 5, 190), heartbeat(5), lat('/play', 6, 190), heartbeat(6)]);
    await expectEventually(() => expect(reasons('SlowPlay')).toEqual(['firing', 'resolved']), { timeoutMs: 20_000 });
  });

  it('honours Retry-After on a 429, then delivers once', async () => {
    const r = await hook();
    r.answerNext(1, 429, { 'retry-after': '2' });
    const tenant = await tenantWith('throttled', { routing: webhookRoute(r.url(), { group_wait: '0s' }) });
    await publish(tenant, [lat('/play', 0, 400), lat('/play', 1, 400)]);
    await expectEventually(() => expect(r.accepted()).toHaveLength(1), { timeoutMs: 20_000 });
    const [first, second] = r.deliveries;
    expect(first!.status).toBe(429);
    expect(second!.receivedAt - first!.receivedAt).toBeGreaterThanOrEqual(1_900);
    expect((await outbox(tenant)).map((o) => [o.status, o.attempts])).toEqual([['sent', 2]]);
  });

  it('groups alerts by group_by, and an inhibiting alert mutes its target', async () => {
    const r = await hook();
    const tenant = await tenantWith('grouped', {
      rules: [
        { id: 'HighLatency', metric: 'api_latency_ms', stat: 'p95', op: '>', threshold: 250, severity: 'warning' },
        { id: 'VeryHighLatency', metric: 'api_latency_ms', stat: 'p95', op: '>', threshold: 1_000, severity: 'critical' },
      ],
      routing: {
        ...webhookRoute(r.url(), { group_wait: '2s' }),
        inhibit_rules: [{ source_matchers: ['severity="critical"'], target_matchers: ['severity="warning"'], equal: ['route'] }],
      },
    });
    // /play and /search breach HighLatency; /search also breaches VeryHighLatency, which inhibits its warning.
    await publish(tenant, [lat('/play', 0, 400), lat('/search', 0, 2_000), lat('/play', 1, 400), lat('/search', 1, 2_000)]);
    await expectEventually(() => expect(r.accepted().length).toBeGreaterThanOrEqual(2), { timeoutMs: 20_000 });
    await new Promise((res) => setTimeout(res, 1_500));
    const bodies = r.accepted().map(payloadOf);
    const byName = Object.fromEntries(bodies.map((b) => [b.alerts[0]!.labels['alertname'], b.alerts.map((a) => a.labels['route']).sort()]));
    expect(byName).toEqual({ HighLatency: ['/play'], VeryHighLatency: ['/search'] });
  });

  it('escalates to PagerDuty until acknowledged through the API, then resolves the same incident', async () => {
    const r = await hook();
    const tenant = await tenantWith('escalate', {
      routing: {
        route: { receiver: 'hook', group_by: ['alertname'], group_wait: '0s', group_interval: '1s', repeat_interval: '1h', escalation: 'ops' },
        receivers: [
          { name: 'hook', webhook_configs: [{ url: r.url(), secret: SECRET }] },
          { name: 'lead', pagerduty_configs: [{ routing_key: ROUTING_KEY }] },
        ],
        escalations: [{ name: 'ops', steps: [{ receivers: ['lead'], after: '2s' }, { receivers: ['lead'], after: '60s' }] }],
      },
    });
    await publish(tenant, [lat('/play', 0, 400), lat('/play', 1, 400)]);
    const mine = (): PagerDutyEventRecord[] => pagerduty.events.filter((e) => e.routing_key === ROUTING_KEY && e.dedup_key.startsWith(`${tenant}/`));
    await expectEventually(() => expect(mine().map((e) => e.event_action)).toEqual(['trigger']), { timeoutMs: 20_000 });
    const dedupKey = mine()[0]!.dedup_key;
    const groups = (await (await api('/v1/alert-groups', tenant)).json()) as { groups: { groupKey: string }[] };
    expect(groups.groups).toHaveLength(1);
    const groupKey = groups.groups[0]!.groupKey;

    // Another tenant's key, or none, cannot acknowledge it.
    const other = await tenantWith('other', { routing: webhookRoute(r.url()) });
    expect((await api(`/v1/alert-groups/${groupKey}/ack`, other, { method: 'POST' })).status).toBe(404);
    expect((await api(`/v1/alert-groups/${groupKey}/ack`, undefined, { method: 'POST' })).status).toBe(401);

    const ack = await api(`/v1/alert-groups/${groupKey}/ack`, tenant, { method: 'POST' });
    expect(ack.status).toBe(200);
    await expectEventually(() => expect(mine().map((e) => e.event_action)).toEqual(['trigger', 'acknowledge']), { timeoutMs: 20_000 });
    await expectEventually(() => expect(r.accepted().map((d) => payloadOf(d).headroom.reason)).toEqual(['firing', 'escalation', 'acknowledged']));

    await publish(tenant, [lat('/play', 2, 100), lat('/play', 3, 100)]);
    await expectEventually(() => expect(mine().map((e) => e.event_action)).toEqual(['trigger', 'acknowledge', 'resolve']), { timeoutMs: 20_000 });
    expect(new Set(mine().map((e) => e.dedup_key))).toEqual(new Set([dedupKey]));
    expect(pagerduty.incidents.get(dedupKey)).toEqual(['triggered', 'acknowledged', 'resolved']);
    await expectEventually(() => expect(r.accepted().map((d) => payloadOf(d).headroom.reason).at(-1)).toBe('resolved'));
  });

  it('a silence mutes matching alerts and, with endOnResolve, ends when they resolve', async () => {
    const r = await hook();
    const tenant = await tenantWith('silenced', { routing: webhookRoute(r.url(), { group_wait: '0s' }) });
    const created = await api('/v1/silences', tenant, {
      method: 'POST',
      body: JSON.stringify({ matchers: ['route="/play"'], endsAt: new Date(Date.now() + 3_600_000).toISOString(), endOnResolve: true, comment: 'deploy' }),
    });
    expect(created.status).toBe(201);
    const bad = await api('/v1/silences', tenant, { method: 'POST', body: JSON.stringify({ matchers: ['route=~".*"'], endsAt: new Date(Date.now() + 60_000).toISOString() }) });
    expect(bad.status).toBe(400);
    await publish(tenant, [lat('/play', 0, 400), lat('/play', 1, 400)]);
    await expectEventually(async () => expect((await pool.query('select 1 from alerting.groups where tenant = $1', [tenant])).rowCount).toBe(1), { timeoutMs: 20_000 });
    await new Promise((res) => setTimeout(res, 2_000));
    expect(r.deliveries).toEqual([]);
    await publish(tenant, [lat('/play', 2, 100), lat('/play', 3, 100)]);
    await expectEventually(async () => {
      const { silences } = (await (await api('/v1/silences', tenant)).json()) as { silences: { endsAt: number }[] };
      expect(silences[0]!.endsAt).toBeLessThanOrEqual(Date.now());
    }, { timeoutMs: 20_000 });
    // The silence ended with the alert: the next episode pages.
    await publish(tenant, [lat('/play', 4, 400), lat('/play', 5, 400)]);
    await expectEventually(() => expect(r.accepted()).toHaveLength(1), { timeoutMs: 20_000 });
    expect(r.deliveries).toHaveLength(1);
  });

  it('keeps one Slack thread per group (firing → escalated → acknowledged from a signed Slack click → resolved, parent updated), hostile labels inert', async () => {
    const hostile = '<!channel> <https://evil.example|click>';
    const lead = await hook();
    const tenant = await tenantWith('slacky', {
      routing: {
        route: { receiver: 'chat', group_by: ['alertname'], group_wait: '0s', group_interval: '1s', repeat_interval: '1h', escalation: 'ops' },
        receivers: [
          { name: 'chat', slack_configs: [{ channel: '#oncall', bot_token: TENANT_BOT, team_id: 'T0TENANT' }] },
          { name: 'lead', webhook_configs: [{ url: lead.url(), secret: SECRET }] },
        ],
        escalations: [{ name: 'ops', steps: [{ receivers: ['lead'], after: '2s' }, { receivers: ['lead'], after: '60s' }] }],
      },
    });
    const mine = () => slack.messages.filter((m) => m.token === TENANT_BOT && m.channel === '#oncall');
    await publish(tenant, [lat(hostile, 0, 400), lat(hostile, 1, 400)]);
    const parent = await expectEventually(() => {
      const parents = mine().filter((m) => !m.threadTs);
      expect(parents).toHaveLength(1);
      return parents[0]!;
    }, { timeoutMs: 20_000 });
    // Escalated after 2 s: a reply in the thread, the parent updated, the lead told.
    await expectEventually(() => expect(slack.repliesTo(parent.ts!)).toHaveLength(1), { timeoutMs: 20_000 });
    await expectEventually(() => expect(lead.accepted()).toHaveLength(1));

    // A click from a workspace the tenant did not declare is refused; its own is honoured.
    const post = (teamId: string) => {
      const req = slack.signedAction(SIGNING_SECRET, slack.clickPayload(parent, 'headroom_ack', { id: 'U0ANA', name: 'ana' }, teamId));
      return fetch(`${url}/v1/slack/actions`, { method: 'POST', headers: req.headers, body: req.body });
    };
    expect((await post('T0EVIL')).status).toBe(403);
    const forged = slack.signedAction('not-the-signing-secret', slack.clickPayload(parent, 'headroom_ack', { id: 'U0ANA', name: 'ana' }, 'T0TENANT'));
    expect((await fetch(`${url}/v1/slack/actions`, { method: 'POST', headers: forged.headers, body: forged.body })).status).toBe(401);
    expect((await post('T0TENANT')).status).toBe(200);
    await expectEventually(() => expect(slack.repliesTo(parent.ts!)).toHaveLength(2), { timeoutMs: 20_000 });
    await expectEventually(() => expect(lead.accepted().map((d) => payloadOf(d).headroom.reason)).toEqual(['escalation', 'acknowledged']));

    await publish(tenant, [lat(hostile, 2, 100), lat(hostile, 3, 100)]);
    await expectEventually(() => expect(slack.repliesTo(parent.ts!)).toHaveLength(3), { timeoutMs: 20_000 });
    expect(mine().filter((m) => !m.threadTs)).toHaveLength(1);
    const texts = slack.repliesTo(parent.ts!).map((m) => `${m.text} ${JSON.stringify(m.blocks)}`);
    expect(texts[0]).toMatch(/ESCALATED|escalat/i);
    expect(texts[1]).toMatch(/ACKNOWLEDGED|acknowledged/i);
    expect(texts[2]).toMatch(/RESOLVED/);
    expect(`${slack.current(parent.ts!)!.text} ${JSON.stringify(slack.current(parent.ts!)!.blocks)}`).toMatch(/RESOLVED/);
    // Everything Slack received stays inert: no live mention, no link markup from the tenant's label.
    for (const m of [...mine(), ...slack.updates.filter((u) => u.ts === parent.ts)]) {
      const all = `${m.text} ${JSON.stringify(m.blocks)}`;
      expect(all).not.toContain('<!channel>');
      expect(all).not.toContain('<https://evil.example|click>');
    }
  });

  it('exposes per-channel self-metrics', async () => {
    const text = await (await fetch(`${url}/metrics`, { headers: controlTrust().metricsHeaders })).text();
    expect(text).toMatch(/headroom_alerting_notifications_total\{channel="webhook",outcome="sent"\} [1-9]/);
    expect(text).toMatch(/headroom_alerting_notifications_total\{channel="webhook",outcome="failed"\} [1-9]/);
    expect(text).toMatch(/headroom_alerting_notifications_total\{channel="pagerduty",outcome="sent"\} [1-9]/);
    expect(text).toContain('headroom_alerting_notification_latency_seconds_bucket{le="1",channel="webhook"}');
    expect(text).toContain('headroom_alerting_queued_notifications');
  });

  it('forgets sent and dead outbox entries past the retention, never pending ones', async () => {
    // Old entries of one tenant: one sent, one dead, and one pending not due for an hour (no sender touches it).
    const tenant = uniqueId('prune');
    const insert = (status: string, nextAttemptAt: number) =>
      pool.query<{ id: string }>(
        `insert into alerting.outbox (tenant, receiver, channel, integration, group_key, payload, status, next_attempt_at, created_at, origin_at)
         values ($1, 'hook', 'webhook', 0, 'g', '{}', $2, $3, 0, 0) returning id`,
        [tenant, status, nextAttemptAt],
      );
    await insert('sent', 0);
    await insert('dead', 0);
    const pending = (await insert('pending', Date.now() + 3_600_000)).rows[0]!.id;
    expect(await app.get(DispatchRepository).pruneOutbox(Date.now())).toBeGreaterThanOrEqual(2);
    expect((await pool.query('select id, status from alerting.outbox where tenant = $1', [tenant])).rows).toEqual([{ id: pending, status: 'pending' }]);
    await pool.query('delete from alerting.outbox where tenant = $1', [tenant]);
  });
});
