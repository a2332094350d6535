/**
 * Alerting against the real Kafka, PostgreSQL and Redis from `npm run infra:up`, with a local server
 * speaking Slack's Web API, for tenants on the legacy one-channel config (`slackChannel`): control
 * records in, sealed aggregate windows in, Slack threads and alert events out, per tenant, exactly
 * once across replays, a fresh instance, SIGTERM and SIGKILL.
 */
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { mkdirSync } from 'node:fs';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import pino from 'pino';
import { Registry } from 'prom-client';
import Redis from 'ioredis';
import { Pool } from 'pg';
import {
  AggregateBatchMessage,
  AlertEventMessage,
  ControlRecordMessage,
  controlKey,
  Topics,
  type AggregateWindow,
  type AlertEvent,
  type ControlRecord,
} from '@headroom/contracts';
import { createWrappedKey, KeyEncryptionKey, TenantKeyring } from '@headroom/crypto';
import { createKafkaClient, decodeRecord, RecordPublisher, type KafkaClient } from '@headroom/kafka';
import { createLogger } from '@headroom/runtime';
import { expectEventually, ServiceProcess, silentLogger, SlackMock, testInfra, uniqueId, controlTrust } from '@headroom/testing';
import { loadConfig } from '@headroom/config';
import { AppModule } from './app.module';
import { alertingEnvSchema } from './config';

const infra = testInfra();
const SLACK_TOKEN = `xoxb-${randomBytes(8).toString('hex')}`;
const kekBase64 = randomBytes(32).toString('base64');
const kekId = `kek-${randomBytes(4).toString('hex')}`;
const kek = KeyEncryptionKey.fromBase64(kekBase64, kekId);
const LOG_DIR = resolve(__dirname, '../../../tmp/test-logs');
const at = new Date().toISOString();
const t0 = Math.floor(Date.now() / 10_000) * 10_000 - 600_000;

const latency = (i: number, p95: number): AggregateWindow => ({
  series: { name: 'api_latency_ms', labels: { route: '/play' } },
  seriesId: 'api-latency-play',
  windowStart: t0 + i * 10_000,
  windowMs: 10_000,
  count: 20,
  sum: 20 * (p95 / 2),
  min: 1,
  max: p95 * 2,
  p50: p95 / 2,
  p95,
  p99: p95 * 1.5,
});

/** Sets a brand-new consumer group's offsets on a topic, so it starts exactly there (no race with "latest"). */
async function pinGroup(kafka: KafkaClient, groupId: string, topic: string, offsets?: { partition: number; offset: string }[]) {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const partitions = offsets ?? (await admin.fetchTopicOffsets(topic)).map((p) => ({ partition: p.partition, offset: p.high }));
    await admin.setOffsets({ groupId, topic, partitions });
    return partitions;
  } finally {
    await admin.disconnect();
  }
}

describe('alerting service (Kafka, Redis, Slack API mock)', () => {
  const kafka = createKafkaClient({ brokers: infra.brokers, clientId: 'alerting-int-spec', logger: silentLogger() });
  const keyring = new TenantKeyring(kek);
  const control = new RecordPublisher(kafka, undefined, undefined, { signer: controlTrust().signer });
  const data = new RecordPublisher(kafka, keyring, undefined, { signer: controlTrust().signer });
  const slack = new SlackMock(SLACK_TOKEN);
  const redis = new Redis(infra.redisUrl);
  const pool = new Pool({ connectionString: infra.databaseUrl, max: 2 });
  const tenantA = uniqueId('label-a');
  const tenantB = uniqueId('label-b');
  const tenantC = uniqueId('label-c');
  const tenantD = uniqueId('label-d');
  const channelA = `#a-${tenantA}`.slice(0, 80);
  const channelB = `#b-${tenantB}`.slice(0, 80);
  const channelC = `#c-${tenantC}`.slice(0, 80);
  const channelD = `#d-${tenantD}`.slice(0, 80);
  let slackApiUrl = '';
  const openApps: NestFastifyApplication[] = [];
  const watchers: ReturnType<KafkaClient['consumer']>[] = [];

  const publishWindows = (tenant: string, windows: AggregateWindow[]) => data.publish(AggregateBatchMessage, [{ tenant, value: { windows } }]);

  function configFor(groupId: string) {
    return loadConfig(alertingEnvSchema, {
      KAFKA_BROKERS: infra.brokers.join(','),
      REDIS_URL: infra.redisUrl,
      DATABASE_URL: infra.databaseUrl,
      HEADROOM_KEK: kekBase64, ...controlTrust().env,
      HEADROOM_KEK_ID: kekId,
      SLACK_TOKEN,
      SLACK_API_URL: slackApiUrl,
      ALERTING_GROUP_ID: groupId,
      ALERTING_SETTLE_MS: '300',
      PORT: '0',
      LOG_LEVEL: 'info',
    });
  }

  function processEnv(groupId: string) {
    return {
      KAFKA_BROKERS: infra.brokers.join(','),
      REDIS_URL: infra.redisUrl,
      DATABASE_URL: infra.databaseUrl,
      HEADROOM_KEK: kekBase64, ...controlTrust().env,
      HEADROOM_KEK_ID: kekId,
      SLACK_TOKEN,
      SLACK_API_URL: slackApiUrl,
      ALERTING_GROUP_ID: groupId,
      ALERTING_SETTLE_MS: '300',
    };
  }

  const randomPort = () => 20_000 + Math.floor(Math.random() * 20_000);

  /** Watches headroom.alerts.v1 from its current end, keeping only the given tenants' events. */
  async function watchAlerts(tenants: string[]) {
    const events: { tenant: string; value: AlertEvent }[] = [];
    const groupId = uniqueId('alerting-int-alerts');
    const watcher = kafka.consumer({ groupId });
    watchers.push(watcher);
    await pinGroup(kafka, groupId, Topics.alerts.name);
    await watcher.connect();
    await watcher.subscribe({ topic: Topics.alerts.name, fromBeginning: false });
    const mine = new Set(tenants);
    await watcher.run({
      eachMessage: async ({ topic, message }) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) if (v !== undefined) headers[k] = String(v);
        if (!mine.has(headers['hr-tenant'] ?? '')) return;
        const decoded = decodeRecord(topic, message.key?.toString() ?? null, message.value, headers, new Set([AlertEventMessage.id]), keyring);
        if (decoded.ok && decoded.tenant) events.push({ tenant: decoded.tenant, value: decoded.value as AlertEvent });
      },
    });
    return events;
  }

  async function bootInProcess(groupId: string) {
    const metrics = new Registry();
    const logger = createLogger('alerting', 'info', pino.destination({ dest: join(LOG_DIR, 'alerting-int.log'), sync: true }));
    const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(configFor(groupId), logger, metrics), new FastifyAdapter(), { logger: false });
    await app.listen(0, '127.0.0.1');
    openApps.push(app);
    const url = await app.getUrl();
    await expectEventually(async () => {
      const res = await fetch(`${url.replace('[::1]', '127.0.0.1')}/readyz`);
      expect(res.status).toBe(200);
    }, { timeoutMs: 30_000 });
    return { app, metrics, url };
  }

  /** Parents (thread starters) posted in a channel, and the replies in their threads. */
  function threads(channel: string) {
    const msgs = slack.messagesFor(channel);
    const parents = msgs.filter((m) => !m.threadTs);
    return parents.map((p) => ({ parent: p, replies: msgs.filter((m) => m.threadTs === p.ts), current: slack.current(p.ts!)?.text ?? p.text }));
  }

  const outboxOf = async (tenant: string) => (await pool.query<{ status: string; reason: string }>(`select status, payload->>'reason' as reason from alerting.outbox where tenant = $1 order by id`, [tenant])).rows;

  beforeAll(async () => {
    mkdirSync(LOG_DIR, { recursive: true });
    slackApiUrl = await slack.start();
    await control.connect();
    await data.connect();
    const records: ControlRecord[] = [];
    for (const [tenant, locale] of [
      [tenantA, 'en'],
      [tenantB, 'en'],
      [tenantC, 'fr'],
      [tenantD, 'en'],
    ] as const) {
      records.push({ kind: 'tenant', tenant, displayName: tenant, status: 'active', shards: 1, locale, createdAt: at });
      const key = createWrappedKey(kek, tenant, 'data', 1);
      keyring.add(key);
      records.push({ kind: 'data_key', ...key, state: 'active' });
    }
    const latencyRule = { id: 'api-latency', metric: 'api_latency_ms', stat: 'p95', op: '>', threshold: 250, severity: 'critical' } as const;
    records.push({ kind: 'alert_config', tenant: tenantA, slackChannel: channelA, rules: [latencyRule], updatedAt: at });
    // B watches the same metric with a much higher threshold: A's rule must never judge B's windows.
    records.push({ kind: 'alert_config', tenant: tenantB, slackChannel: channelB, rules: [{ ...latencyRule, threshold: 1_000 }], updatedAt: at });
    records.push({ kind: 'alert_config', tenant: tenantC, slackChannel: channelC, rules: [latencyRule], updatedAt: at });
    records.push({ kind: 'alert_config', tenant: tenantD, slackChannel: channelD, rules: [latencyRule], updatedAt: at });
    await control.publish(ControlRecordMessage, records.map((value) => ({ key: controlKey(value), value })));
  });

  afterAll(async () => {
    for (const app of openApps) await app.close().catch(() => undefined);
    for (const w of watchers) await w.disconnect().catch(() => undefined);
    await control.disconnect();
    await data.disconnect();
    await slack.stop();
    for (const tenant of [tenantA, tenantB, tenantC, tenantD]) await redis.del(`hr:rules:${tenant}`);
    await redis.quit();
    await pool.end();
  });

  it('pages only the breaching tenant, once per transition (firing starts a thread, the resolution goes in it), and publishes the alert events', async () => {
    const alertEvents = await watchAlerts([tenantA, tenantB]);

    const groupId = uniqueId('alerting-int');
    const start = await pinGroup(kafka, groupId, Topics.aggregates.name);
    await pinGroup(kafka, `${groupId}-dispatch`, Topics.alerts.name);
    const first = await bootInProcess(groupId);

    // Window 0: A's p95 crosses 250; B's is far higher but under B's own threshold. Window 1 closes
    // the instant (it is judged once a later one arrives) and is healthy again.
    const sentAt = Date.now();
    await publishWindows(tenantB, [latency(0, 900)]);
    await publishWindows(tenantA, [latency(0, 312)]);
    const [firing] = await expectEventually(() => {
      const t = threads(channelA);
      expect(t).toHaveLength(1);
      return t;
    });
    expect(firing!.parent.text).toMatch(/FIRING/);
    expect(firing!.parent.token).toBe(SLACK_TOKEN);
    process.stdout.write(`${JSON.stringify({ measure: 'alerting window-to-slack latency', ms: firing!.parent.receivedAt - sentAt })}\n`);

    await publishWindows(tenantB, [latency(1, 950)]);
    await publishWindows(tenantA, [latency(1, 120)]);
    await expectEventually(() => expect(threads(channelA)[0]!.replies).toHaveLength(1));
    const [episode1] = threads(channelA);
    expect(episode1!.replies[0]!.text).toMatch(/RESOLVED/);
    // The parent now shows the latest state.
    expect(episode1!.current).toMatch(/RESOLVED/);

    // Replay windows 0 and 1, then a new breach (window 2) and its close (window 3) as a barrier:
    // same key, same partition, so once the new episode has paged, the replays have been handled.
    await publishWindows(tenantA, [latency(0, 312), latency(1, 120)]);
    await publishWindows(tenantA, [latency(2, 400), latency(3, 400)]);
    await expectEventually(() => expect(threads(channelA)).toHaveLength(2));
    expect(threads(channelA).map((t) => t.replies.length)).toEqual([1, 0]);
    expect(slack.messagesFor(channelB)).toEqual([]);

    await expectEventually(() => expect(alertEvents.length).toBeGreaterThanOrEqual(3));
    expect(alertEvents.map((e) => [e.tenant, e.value.state, e.value.startsAt, e.value.endsAt])).toEqual([
      [tenantA, 'firing', t0, undefined],
      [tenantA, 'resolved', t0, t0 + 10_000],
      [tenantA, 'firing', t0 + 20_000, undefined],
    ]);
    expect(alertEvents[0]!.value).toMatchObject({ ruleId: 'api-latency', value: 312, threshold: 250, labels: { route: '/play', alertname: 'api-latency', severity: 'critical' } });

    const metricsText = await (await fetch(`${first.url.replace('[::1]', '127.0.0.1')}/metrics`, { headers: controlTrust().metricsHeaders })).text();
    expect(metricsText).toMatch(/headroom_alerting_notifications_total\{channel="slack",outcome="sent"\} 3/);
    await first.app.close();
    openApps.splice(openApps.indexOf(first.app), 1);

    // A fresh instance with no memory and no stored rule state (as if hr:rules had expired)
    // re-reads every window from the same start: every transition is recomputed and republished,
    // and the dispatcher's record of each alert (PostgreSQL) stops each one from paging again.
    expect(await redis.exists(`hr:rules:${tenantA}`)).toBe(1);
    await redis.del(`hr:rules:${tenantA}`);
    const replayGroup = uniqueId('alerting-int-replay');
    await pinGroup(kafka, replayGroup, Topics.aggregates.name, start);
    // A brand-new dispatch group starts at the end of the alerts topic when it joins: pinned now, so
    // nothing published between the boot and the join is skipped.
    await pinGroup(kafka, `${replayGroup}-dispatch`, Topics.alerts.name);
    await bootInProcess(replayGroup);
    // Barrier: window 4 resolves the second episode, the only new notification.
    await publishWindows(tenantA, [latency(4, 100), latency(5, 100)]);
    await expectEventually(() => expect(threads(channelA)[1]!.replies).toHaveLength(1), { timeoutMs: 30_000 });
    await new Promise((r) => setTimeout(r, 1_000));
    expect(threads(channelA).map((t) => t.replies.length)).toEqual([1, 1]);
    expect((await outboxOf(tenantA)).map((o) => [o.reason, o.status])).toEqual([
      ['firing', 'sent'],
      ['resolved', 'sent'],
      ['firing', 'sent'],
      ['resolved', 'sent'],
    ]);
    expect(slack.messagesFor(channelB)).toEqual([]);
  }, 150_000);

  it('runs as a process: boots, pages in French, and stops cleanly on SIGTERM', async () => {
    const groupId = uniqueId('alerting-int-process');
    await pinGroup(kafka, groupId, Topics.aggregates.name);
    await pinGroup(kafka, `${groupId}-dispatch`, Topics.alerts.name);
    const service = new ServiceProcess('alerting', randomPort(), processEnv(groupId));
    await service.start();
    await publishWindows(tenantC, [latency(0, 312.5), latency(1, 312.5)]);
    await expectEventually(() => expect(slack.messagesFor(channelC)).toHaveLength(1));
    expect(slack.messagesFor(channelC)[0]!.text).toMatch(/ALERTE/);
    expect(await service.stop()).toBe(0);
  }, 120_000);

  it('SIGKILL in the middle of a firing alert loses and repeats nothing: one parent, one resolution in its thread; erasure deletes the state', async () => {
    const events = await watchAlerts([tenantD]);
    const groupId = uniqueId('alerting-int-restart');
    await pinGroup(kafka, groupId, Topics.aggregates.name);
    await pinGroup(kafka, `${groupId}-dispatch`, Topics.alerts.name);

    const first = new ServiceProcess('alerting', randomPort(), processEnv(groupId), 'alerting-restart-1');
    await first.start();
    await publishWindows(tenantD, [latency(0, 312), latency(1, 312)]);
    await expectEventually(() => expect(threads(channelD)).toHaveLength(1));
    await expectEventually(async () => expect((await outboxOf(tenantD)).map((o) => o.status)).toEqual(['sent']));
    await first.kill('SIGKILL');

    // A new process in the same groups: no memory, only what Redis, PostgreSQL and the committed offsets hold.
    const second = new ServiceProcess('alerting', randomPort(), processEnv(groupId), 'alerting-restart-2');
    await second.start();
    await publishWindows(tenantD, [latency(2, 400)]); // still breaching: same episode, no page
    await publishWindows(tenantD, [latency(3, 120), latency(4, 120)]); // healthy: resolves the episode of window 0
    await expectEventually(() => expect(threads(channelD)[0]?.replies).toHaveLength(1), { timeoutMs: 30_000 });
    await new Promise((r) => setTimeout(r, 1_500));
    expect(threads(channelD)).toHaveLength(1);
    expect(threads(channelD)[0]!.replies).toHaveLength(1);
    expect((await outboxOf(tenantD)).map((o) => [o.reason, o.status])).toEqual([
      ['firing', 'sent'],
      ['resolved', 'sent'],
    ]);
    const distinct = new Map(events.map((e) => [`${e.value.state}/${e.value.startsAt}`, e.value]));
    expect([...distinct.values()].map((e) => [e.state, e.startsAt, e.endsAt])).toEqual([
      ['firing', t0, undefined],
      ['resolved', t0, t0 + 30_000],
    ]);

    // Erasure: the tenant's rule state and alerting rows go.
    expect(await redis.exists(`hr:rules:${tenantD}`)).toBe(1);
    const erased: ControlRecord = { kind: 'tenant_erased', tenant: tenantD, erasedAt: new Date().toISOString() };
    await control.publish(ControlRecordMessage, [{ key: controlKey(erased), value: erased }]);
    await expectEventually(async () => {
      expect(await redis.exists(`hr:rules:${tenantD}`)).toBe(0);
      expect(await outboxOf(tenantD)).toEqual([]);
    }, { timeoutMs: 20_000 });
    expect(await second.stop()).toBe(0);
  }, 150_000);
});
