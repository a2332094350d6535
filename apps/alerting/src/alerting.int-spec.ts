/**
 * Alerting against the real Kafka and Redis from `npm run infra:up`, with a local server speaking
 * Slack's Web API: control records in, sealed aggregate windows in, Slack messages and alert events
 * out, per tenant, exactly once across replays and a fresh instance.
 */
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { mkdirSync } from 'node:fs';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import pino from 'pino';
import { Registry } from 'prom-client';
import Redis from 'ioredis';
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
import { expectEventually, ServiceProcess, silentLogger, SlackMock, testInfra, uniqueId } from '@headroom/testing';
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
  const control = new RecordPublisher(kafka, undefined);
  const data = new RecordPublisher(kafka, keyring);
  const slack = new SlackMock(SLACK_TOKEN);
  const redis = new Redis(infra.redisUrl);
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
      HEADROOM_KEK: kekBase64,
      HEADROOM_KEK_ID: kekId,
      SLACK_TOKEN,
      SLACK_API_URL: slackApiUrl,
      ALERTING_GROUP_ID: groupId,
      PORT: '0',
      LOG_LEVEL: 'info',
    });
  }

  function processEnv(groupId: string) {
    return {
      KAFKA_BROKERS: infra.brokers.join(','),
      REDIS_URL: infra.redisUrl,
      HEADROOM_KEK: kekBase64,
      HEADROOM_KEK_ID: kekId,
      SLACK_TOKEN,
      SLACK_API_URL: slackApiUrl,
      ALERTING_GROUP_ID: groupId,
    };
  }

  const randomPort = () => 20_000 + Math.floor(Math.random() * 20_000);

  async function scanKeys(match: string): Promise<string[]> {
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 1000);
      found.push(...keys);
      cursor = next;
    } while (cursor !== '0');
    return found.sort();
  }

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

  async function notificationCount(metrics: Registry, outcome: string): Promise<number> {
    const m = await metrics.getSingleMetric('headroom_alerts_notifications_total')?.get();
    return (m?.values ?? []).filter((v) => v.labels['outcome'] === outcome).reduce((s, v) => s + v.value, 0);
  }

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
    for (const tenant of [tenantA, tenantB, tenantC, tenantD]) {
      const keys = [...(await scanKeys(`hr:notif:${tenant}:*`)), ...(await scanKeys(`hr:alert:${tenant}:*`)), ...(await scanKeys(`hr:alert:${tenant}-x:*`))];
      if (keys.length) await redis.del(...keys);
    }
    await redis.quit();
  });

  it('pages only the breaching tenant, once per transition, and publishes the alert events', async () => {
    const alertEvents = await watchAlerts([tenantA, tenantB]);

    const groupId = uniqueId('alerting-int');
    const start = await pinGroup(kafka, groupId, Topics.aggregates.name);
    const first = await bootInProcess(groupId);

    // Window 0: A's p95 crosses 250; B's is far higher but under B's own threshold.
    const sentAt = Date.now();
    await publishWindows(tenantB, [latency(0, 900)]);
    await publishWindows(tenantA, [latency(0, 312)]);
    const [firing] = await expectEventually(() => {
      const msgs = slack.messagesFor(channelA);
      expect(msgs).toHaveLength(1);
      return msgs;
    });
    expect(firing!.text).toBe(`[FIRING] p95(api_latency_ms) = 312 > 250 — tenant ${tenantA}, route=/play`);
    process.stdout.write(`${JSON.stringify({ measure: 'alerting window-to-slack latency', ms: firing!.receivedAt - sentAt })}\n`);

    // Window 1: back under the threshold → one resolved message.
    await publishWindows(tenantB, [latency(1, 950)]);
    await publishWindows(tenantA, [latency(1, 120)]);
    await expectEventually(() => expect(slack.messagesFor(channelA)).toHaveLength(2));
    expect(slack.messagesFor(channelA)[1]!.text).toBe(`[RESOLVED] p95(api_latency_ms) = 120 (threshold > 250) — tenant ${tenantA}, route=/play`);

    // Replay windows 0 and 1, then a new breach as a barrier: same key, same partition, so once the
    // barrier has paged, the replays have been handled.
    await publishWindows(tenantA, [latency(0, 312), latency(1, 120)]);
    await publishWindows(tenantA, [latency(2, 400)]);
    await expectEventually(() => expect(slack.messagesFor(channelA).length).toBeGreaterThanOrEqual(3));
    expect(slack.messagesFor(channelA).map((m) => m.text.split(' ')[0])).toEqual(['[FIRING]', '[RESOLVED]', '[FIRING]']);
    expect(slack.messagesFor(channelB)).toEqual([]);
    expect(slack.messagesFor(channelA).every((m) => m.token === SLACK_TOKEN)).toBe(true);

    await expectEventually(() => expect(alertEvents.length).toBeGreaterThanOrEqual(3));
    expect(alertEvents.map((e) => [e.tenant, e.value.state, e.value.startsAt, e.value.endsAt])).toEqual([
      [tenantA, 'firing', t0, undefined],
      [tenantA, 'resolved', t0, t0 + 10_000],
      [tenantA, 'firing', t0 + 20_000, undefined],
    ]);
    expect(alertEvents[0]!.value).toMatchObject({ ruleId: 'api-latency', value: 312, threshold: 250, labels: { route: '/play', alertname: 'api-latency', severity: 'critical' } });

    const metricsText = await (await fetch(`${first.url.replace('[::1]', '127.0.0.1')}/metrics`)).text();
    expect(metricsText).toContain('headroom_alerts_notifications_total{channel="slack",state="firing",outcome="sent"} 2');
    expect(metricsText).toContain('headroom_alerts_notifications_total{channel="slack",state="resolved",outcome="sent"} 1');
    await first.app.close();
    openApps.splice(openApps.indexOf(first.app), 1);

    // A fresh instance with no memory and no stored alert state (as if the hr:alert keys had expired)
    // re-reads everything from the same start: every transition is recomputed, and the notification
    // log in Redis stops each one from paging again.
    const stateKeys = await scanKeys(`hr:alert:${tenantA}:*`);
    expect(stateKeys).toHaveLength(1);
    await redis.del(...stateKeys);
    const replayGroup = uniqueId('alerting-int-replay');
    await pinGroup(kafka, replayGroup, Topics.aggregates.name, start);
    const replay = await bootInProcess(replayGroup);
    await expectEventually(async () => expect(await notificationCount(replay.metrics, 'duplicate')).toBe(3), { timeoutMs: 30_000 });
    expect(await notificationCount(replay.metrics, 'sent')).toBe(0);
    expect(slack.messagesFor(channelA)).toHaveLength(3);
    expect(slack.messagesFor(channelB)).toEqual([]);
    await replay.app.close();
    openApps.splice(openApps.indexOf(replay.app), 1);
  }, 150_000);

  it('runs as a process: boots, pages in French, and stops cleanly on SIGTERM', async () => {
    const groupId = uniqueId('alerting-int-process');
    await pinGroup(kafka, groupId, Topics.aggregates.name);
    const service = new ServiceProcess('alerting', randomPort(), processEnv(groupId));
    await service.start();
    await publishWindows(tenantC, [latency(0, 312.5)]);
    await expectEventually(() => expect(slack.messagesFor(channelC)).toHaveLength(1));
    expect(slack.messagesFor(channelC)[0]!.text).toBe(`[ALERTE] p95(api_latency_ms) = 312,5 > 250 — locataire ${tenantC}, route=/play`);
    expect(await service.stop()).toBe(0);
  }, 120_000);

  it('keeps a firing alert across a restart (no second page, one RESOLVED with the original startsAt); erasure deletes the state', async () => {
    const events = await watchAlerts([tenantD]);
    const groupId = uniqueId('alerting-int-restart');
    await pinGroup(kafka, groupId, Topics.aggregates.name);

    const first = new ServiceProcess('alerting', randomPort(), processEnv(groupId), 'alerting-restart-1');
    await first.start();
    await publishWindows(tenantD, [latency(0, 312)]);
    await expectEventually(() => expect(slack.messagesFor(channelD)).toHaveLength(1));
    expect(slack.messagesFor(channelD)[0]!.text).toBe(`[FIRING] p95(api_latency_ms) = 312 > 250 — tenant ${tenantD}, route=/play`);
    await expectEventually(() => expect(events).toHaveLength(1));
    const key = `hr:alert:${tenantD}:${events[0]!.value.fingerprint}`;
    expect(await redis.hgetall(key)).toEqual({ status: 'firing', startsAt: String(t0), lastWindowStart: String(t0) });
    expect(await redis.ttl(key)).toBeGreaterThan(29 * 86_400);
    expect(await first.stop()).toBe(0);

    // A new process in the same group: it has no memory, only what Redis holds.
    const second = new ServiceProcess('alerting', randomPort(), processEnv(groupId), 'alerting-restart-2');
    await second.start();
    await publishWindows(tenantD, [latency(1, 400)]); // still breaching: same episode, no page
    await publishWindows(tenantD, [latency(2, 120)]); // healthy: resolves the episode of window 0
    // Same key, same partition: once the RESOLVED has arrived, window 1 has been handled too.
    await expectEventually(() => expect(slack.messagesFor(channelD)).toHaveLength(2));
    expect(slack.messagesFor(channelD).map((m) => m.text)).toEqual([
      `[FIRING] p95(api_latency_ms) = 312 > 250 — tenant ${tenantD}, route=/play`,
      `[RESOLVED] p95(api_latency_ms) = 120 (threshold > 250) — tenant ${tenantD}, route=/play`,
    ]);
    await expectEventually(() => expect(events).toHaveLength(2));
    expect(events.map((e) => [e.tenant, e.value.state, e.value.fingerprint, e.value.startsAt, e.value.endsAt])).toEqual([
      [tenantD, 'firing', events[0]!.value.fingerprint, t0, undefined],
      [tenantD, 'resolved', events[0]!.value.fingerprint, t0, t0 + 20_000],
    ]);
    expect(await redis.hgetall(key)).toEqual({ status: 'inactive', lastWindowStart: String(t0 + 20_000) });
    // The second process never even tried to page FIRING (not a duplicate: no attempt at all).
    const metricsText = await (await fetch(`${second.url}/metrics`)).text();
    const notifications = metricsText.split('\n').filter((l) => l.startsWith('headroom_alerts_notifications_total{'));
    expect(notifications).toEqual([expect.stringMatching(/^headroom_alerts_notifications_total\{channel="slack",state="resolved",outcome="sent"[^}]*\} 1$/)]);

    // Erasure: the tenant's alert keys go (SCAN), a neighbour whose id starts with it stays.
    const neighbour = `hr:alert:${tenantD}-x:${events[0]!.value.fingerprint}`;
    await redis.hset(neighbour, { status: 'inactive', lastWindowStart: String(t0) });
    const erased: ControlRecord = { kind: 'tenant_erased', tenant: tenantD, erasedAt: new Date().toISOString() };
    await control.publish(ControlRecordMessage, [{ key: controlKey(erased), value: erased }]);
    await expectEventually(async () => expect(await scanKeys(`hr:alert:${tenantD}:*`)).toEqual([]), { timeoutMs: 20_000 });
    expect(await redis.exists(neighbour)).toBe(1);
    expect(await second.stop()).toBe(0);
  }, 150_000);
});
