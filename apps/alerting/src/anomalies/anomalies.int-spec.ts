/**
 * Anomaly paging against the real Kafka and Redis, with a local server speaking Slack's Web API:
 * sealed signal batches of two tenants in, one page per anomaly for the tenant that asked for them,
 * and a self-resolving alert event on headroom.alerts.v1.
 */
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { mkdirSync } from 'node:fs';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import pino from 'pino';
import { Registry } from 'prom-client';
import Redis from 'ioredis';
import { AlertEventMessage, ControlRecordMessage, controlKey, SignalBatchMessage, Topics, type AlertEvent, type ControlRecord, type Signal } from '@headroom/contracts';
import { createWrappedKey, KeyEncryptionKey, TenantKeyring } from '@headroom/crypto';
import { createKafkaClient, decodeRecord, RecordPublisher, type KafkaClient } from '@headroom/kafka';
import { createLogger } from '@headroom/runtime';
import { expectEventually, silentLogger, SlackMock, testInfra, uniqueId, controlTrust } from '@headroom/testing';
import { loadConfig } from '@headroom/config';
import { AppModule } from '../app.module';
import { alertingEnvSchema } from '../config';

const infra = testInfra();
const SLACK_TOKEN = `xoxb-${randomBytes(8).toString('hex')}`;
const kekBase64 = randomBytes(32).toString('base64');
const kekId = `kek-${randomBytes(4).toString('hex')}`;
const kek = KeyEncryptionKey.fromBase64(kekBase64, kekId);
const LOG_DIR = resolve(__dirname, '../../../../tmp/test-logs');
const at = new Date().toISOString();
// Recent: an anomaly page expires 5 minutes after its signal, and an expired one pages nobody.
const t0 = Math.floor(Date.now() / 10_000) * 10_000 - 60_000;

const anomaly = (route: string, timestamp: number, score: number): Signal => ({
  kind: 'anomaly',
  detector: 'seasonal',
  series: { name: 'api_latency_ms', labels: { route } },
  timestamp,
  value: 480,
  score,
  explanation: 'p95 value 480 ms is 31.2σ above the expected 120 ms',
});

async function pinGroupAtEnd(kafka: KafkaClient, groupId: string, topic: string) {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const partitions = (await admin.fetchTopicOffsets(topic)).map((p) => ({ partition: p.partition, offset: p.high }));
    await admin.setOffsets({ groupId, topic, partitions });
  } finally {
    await admin.disconnect();
  }
}

describe('anomaly alerts (Kafka, Redis, Slack API mock)', () => {
  const kafka = createKafkaClient({ brokers: infra.brokers, clientId: 'alerting-anomalies-int-spec', logger: silentLogger() });
  const keyring = new TenantKeyring(kek);
  const control = new RecordPublisher(kafka, undefined, undefined, { signer: controlTrust().signer });
  const data = new RecordPublisher(kafka, keyring, undefined, { signer: controlTrust().signer });
  const slack = new SlackMock(SLACK_TOKEN);
  const redis = new Redis(infra.redisUrl);
  const tenantA = uniqueId('label-anom-a');
  const tenantB = uniqueId('label-anom-b');
  const channelA = `#a-${tenantA}`.slice(0, 80);
  const channelB = `#b-${tenantB}`.slice(0, 80);
  let app: NestFastifyApplication | undefined;
  let watcher: ReturnType<KafkaClient['consumer']> | undefined;

  const publishSignals = (tenant: string, signals: Signal[]) => data.publish(SignalBatchMessage, [{ tenant, value: { signals } }]);

  beforeAll(async () => {
    mkdirSync(LOG_DIR, { recursive: true });
    await control.connect();
    await data.connect();
    const records: ControlRecord[] = [];
    for (const tenant of [tenantA, tenantB]) {
      records.push({ kind: 'tenant', tenant, displayName: tenant, status: 'active', shards: 1, locale: 'en', createdAt: at });
      const key = createWrappedKey(kek, tenant, 'data', 1);
      keyring.add(key);
      records.push({ kind: 'data_key', ...key, state: 'active' });
    }
    records.push({ kind: 'alert_config', tenant: tenantA, slackChannel: channelA, rules: [], anomalies: { minScore: 0.8, severity: 'critical' }, updatedAt: at });
    // B has a channel and threshold rules but no anomaly paging.
    records.push({
      kind: 'alert_config',
      tenant: tenantB,
      slackChannel: channelB,
      rules: [{ id: 'api-latency', metric: 'api_latency_ms', stat: 'p95', op: '>', threshold: 250, severity: 'critical' }],
      updatedAt: at,
    });
    await control.publish(ControlRecordMessage, records.map((value) => ({ key: controlKey(value), value })));
  });

  afterAll(async () => {
    await app?.close().catch(() => undefined);
    await watcher?.disconnect().catch(() => undefined);
    await control.disconnect();
    await data.disconnect();
    await slack.stop();
    for (const tenant of [tenantA, tenantB]) {
      for (const match of [`hr:anomaly:${tenant}:*`, `hr:rules:${tenant}`]) {
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 1000);
          if (keys.length) await redis.del(...keys);
          cursor = next;
        } while (cursor !== '0');
      }
    }
    await redis.quit();
  });

  it('pages tenant A once per anomaly above its minScore, never B, and publishes a self-resolving alert event', async () => {
    const slackApiUrl = await slack.start();
    const events: { tenant: string; value: AlertEvent }[] = [];
    const watchGroup = uniqueId('alerting-anomalies-watch');
    watcher = kafka.consumer({ groupId: watchGroup });
    await pinGroupAtEnd(kafka, watchGroup, Topics.alerts.name);
    await watcher.connect();
    await watcher.subscribe({ topic: Topics.alerts.name, fromBeginning: false });
    await watcher.run({
      eachMessage: async ({ topic, message }) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) if (v !== undefined) headers[k] = String(v);
        if (![tenantA, tenantB].includes(headers['hr-tenant'] ?? '')) return;
        const decoded = decodeRecord(topic, message.key?.toString() ?? null, message.value, headers, new Set([AlertEventMessage.id]), keyring);
        if (decoded.ok && decoded.tenant) events.push({ tenant: decoded.tenant, value: decoded.value as AlertEvent });
      },
    });

    const groupId = uniqueId('alerting-anomalies-int');
    await pinGroupAtEnd(kafka, `${groupId}-signals`, Topics.signals.name);
    // The dispatch group too: a brand-new group joining late would start after the first page's event.
    await pinGroupAtEnd(kafka, `${groupId}-dispatch`, Topics.alerts.name);
    const config = loadConfig(alertingEnvSchema, {
      KAFKA_BROKERS: infra.brokers.join(','),
      REDIS_URL: infra.redisUrl,
      DATABASE_URL: infra.databaseUrl,
      HEADROOM_KEK: kekBase64, ...controlTrust().env,
      HEADROOM_KEK_ID: kekId,
      SLACK_TOKEN,
      SLACK_API_URL: slackApiUrl,
      ALERTING_GROUP_ID: groupId,
      PORT: '0',
      LOG_LEVEL: 'info',
    });
    const metrics = new Registry();
    const logger = createLogger('alerting', 'info', pino.destination({ dest: join(LOG_DIR, 'alerting-anomalies-int.log'), sync: true }));
    app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config, logger, metrics), new FastifyAdapter(), { logger: false });
    await app.listen(0, '127.0.0.1');
    const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
    await expectEventually(async () => expect((await fetch(`${url}/readyz`)).status).toBe(200), { timeoutMs: 30_000 });

    await publishSignals(tenantB, [anomaly('/play', t0, 0.99)]);
    await publishSignals(tenantA, [anomaly('/play', t0, 0.95)]);
    await expectEventually(() => expect(slack.messagesFor(channelA)).toHaveLength(1));
    const page = JSON.stringify(slack.messagesFor(channelA)[0]!.blocks);
    expect(page).toContain('31.2σ above the expected 120 ms');
    expect(page).toContain('/play');

    // Under minScore, then a replay of the paged signal, then a barrier on another series of the
    // same tenant (same partition): once the barrier has paged, the two before it were handled.
    await publishSignals(tenantA, [anomaly('/search', t0 + 60_000, 0.5)]);
    await publishSignals(tenantA, [anomaly('/play', t0, 0.95)]);
    await publishSignals(tenantA, [anomaly('/upload', t0 + 120_000, 0.99)]);
    await expectEventually(() => expect(slack.messagesFor(channelA)).toHaveLength(2));
    expect(slack.messagesFor(channelA).map((m) => (JSON.stringify(m.blocks).includes('/upload') ? '/upload' : '/play'))).toEqual(['/play', '/upload']);
    expect(slack.messagesFor(channelB)).toEqual([]);

    await expectEventually(() => expect(events.filter((e) => e.value.startsAt === t0 + 120_000)).toHaveLength(1));
    expect(events.every((e) => e.tenant === tenantA)).toBe(true);
    const first = events.find((e) => e.value.startsAt === t0)!;
    expect(first.value).toMatchObject({ ruleId: 'anomaly', state: 'firing', startsAt: t0, endsAt: t0 + 5 * 60_000, value: 0.95, threshold: 0.8, labels: { alertname: 'anomaly', severity: 'critical', route: '/play' } });

    const metricsText = await (await fetch(`${url}/metrics`, { headers: controlTrust().metricsHeaders })).text();
    expect(metricsText).toContain('headroom_alerting_notifications_total{channel="slack",outcome="sent"} 2');
  }, 120_000);
});
