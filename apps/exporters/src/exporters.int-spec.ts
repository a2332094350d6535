/**
 * The exporters service against the real Kafka and PostgreSQL from `npm run infra:up`: two tenants'
 * control records and sealed aggregate batches go in through Kafka; each tenant's read key sees
 * only its own series on the Prometheus endpoint; windows and counters survive a restart (from
 * PostgreSQL). What Prometheus itself makes of the page: prometheus/prometheus-scrape.int-spec.ts.
 */
import { randomBytes } from 'node:crypto';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Pool } from 'pg';
import { Registry } from 'prom-client';
import { AggregateBatchMessage, ControlRecordMessage, controlKey, Topics, type AggregateWindow, type ControlRecord } from '@headroom/contracts';
import { createWrappedKey, KeyEncryptionKey, TenantKeyring } from '@headroom/crypto';
import { createKafkaClient, ensureTopics, RecordPublisher } from '@headroom/kafka';
import { loadConfig } from '@headroom/config';
import { createLogger, listeningPort } from '@headroom/runtime';
import { generateApiKey } from '@headroom/tenancy';
import { expectEventually, testInfra, uniqueId, controlTrust } from '@headroom/testing';
import { AppModule } from './app.module';
import { exportersEnvSchema } from './config';
import { TEXT_CONTENT_TYPE } from './prometheus/exposition';
import { parseExposition } from './prometheus/exposition.parser';

const infra = testInfra();
const kekBase64 = randomBytes(32).toString('base64');
const kek = KeyEncryptionKey.fromBase64(kekBase64, 'kek-1');
const logger = createLogger('exporters', process.env['LOG_LEVEL'] ?? 'silent');
const config = loadConfig(exportersEnvSchema, {
  HEADROOM_KEK: kekBase64, ...controlTrust().env,
  KAFKA_BROKERS: infra.brokers.join(','),
  DATABASE_URL: infra.databaseUrl,
  PORT: '0',
  LOG_LEVEL: 'silent',
  // Other runs keep sealing records under their own KEKs on the shared topic; don't let each one
  // hold its partition for the production grace period.
});

const tenantA = uniqueId('label-a');
const tenantB = uniqueId('label-b');
const readA = generateApiKey();
const readB = generateApiKey();
const ingestA = generateApiKey();
const at = new Date().toISOString();
// A recent window, so it is not stale: aligned to 10 s, ended a little before now.
const t0 = Math.floor(Date.now() / 10_000) * 10_000 - 30_000;

function window(name: string, windowStart: number, count: number): AggregateWindow {
  return {
    series: { name, labels: { region: 'eu-west' } },
    seriesId: `${name}-eu-west`,
    windowStart,
    windowMs: 10_000,
    count,
    sum: count * 2,
    min: 1,
    max: 3,
    p50: 2,
    p95: 2.9,
    p99: 3,
  };
}

async function boot(groupId: string): Promise<{ app: NestFastifyApplication; url: string }> {
  const module = AppModule.forRoot({ ...config, EXPORTERS_GROUP_ID: groupId }, logger, new Registry());
  const app = await NestFactory.create<NestFastifyApplication>(module, new FastifyAdapter(), { logger: false });
  await app.listen(0, '127.0.0.1');
  const url = `http://127.0.0.1:${listeningPort(app)}`;
  await expectEventually(async () => {
    const res = await fetch(`${url}/readyz`);
    if (res.status !== 200) throw new Error(`not ready: ${await res.text()}`);
  }, { timeoutMs: 45_000 });
  return { app, url };
}

async function scrape(url: string, key: string | undefined, path = '/v1/prometheus/metrics', headers: Record<string, string> = {}) {
  const res = await fetch(`${url}${path}`, { headers: { ...headers, ...(key ? { authorization: `Bearer ${key}` } : {}) } });
  return { status: res.status, contentType: res.headers.get('content-type'), text: await res.text() };
}

/** Each metric's newest window count (the `_count` gauges of the text format). */
async function seriesOn(url: string, key: string, path?: string, headers?: Record<string, string>) {
  const page = await scrape(url, key, path, headers);
  expect(page.status).toBe(200);
  const parsed = parseExposition(page.text);
  return Object.fromEntries(parsed.samples.filter((s) => s.name.endsWith('_count')).map((s) => [s.name, s.value]));
}

/** A sample of the text page, with its timestamp. */
async function sampleOn(url: string, key: string, name: string) {
  const page = await scrape(url, key);
  const found = parseExposition(page.text).samples.filter((s) => s.name === name);
  return found.map((s) => ({ value: s.value, timestampMs: s.timestampMs }));
}

describe('exporters service (real Kafka + PostgreSQL)', () => {
  const kafka = createKafkaClient({ brokers: infra.brokers, clientId: 'exporters-int-spec', logger });
  const keyring = new TenantKeyring(kek);
  const publisher = new RecordPublisher(kafka, keyring, undefined, { signer: controlTrust().signer });
  let service: Awaited<ReturnType<typeof boot>>;

  /** A new consumer group positioned at the topic's end: it will only see what is published from now on. */
  async function groupAtEnd(): Promise<string> {
    const groupId = uniqueId('exporters-int');
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.resetOffsets({ groupId, topic: Topics.aggregates.name, earliest: false });
    } finally {
      await admin.disconnect();
    }
    return groupId;
  }

  beforeAll(async () => {
    await ensureTopics(infra.brokers, [Topics.control, Topics.aggregates]);
    await publisher.connect();
    const records: ControlRecord[] = [];
    for (const tenant of [tenantA, tenantB]) {
      records.push({ kind: 'tenant', tenant, displayName: tenant, status: 'active', shards: 1, locale: 'en', createdAt: at });
      const key = createWrappedKey(kek, tenant, 'data', 1);
      keyring.add(key);
      records.push({ kind: 'data_key', ...key, state: 'active' });
    }
    records.push({ kind: 'api_key', keyId: readA.keyId, tenant: tenantA, secretHash: readA.secretHash, scopes: ['read'], createdAt: at });
    records.push({ kind: 'api_key', keyId: readB.keyId, tenant: tenantB, secretHash: readB.secretHash, scopes: ['read'], createdAt: at });
    records.push({ kind: 'api_key', keyId: ingestA.keyId, tenant: tenantA, secretHash: ingestA.secretHash, scopes: ['ingest'], createdAt: at });
    await publisher.publish(ControlRecordMessage, records.map((value) => ({ key: controlKey(value), value })));
    // Records other runs left on the topic are sealed under other KEKs: start past them.
    service = await boot(await groupAtEnd());
  }, 60_000);

  afterAll(async () => {
    await service?.app.close();
    await publisher.disconnect();
  });

  it("serves each tenant its own series only, in the Prometheus text format", async () => {
    await publisher.publish(AggregateBatchMessage, [
      { tenant: tenantA, value: { windows: [window('a_song_plays', t0, 5), window('a_skips', t0, 2)] } },
      { tenant: tenantB, value: { windows: [window('b_song_plays', t0, 11)] } },
    ]);
    await expectEventually(async () => expect(await seriesOn(service.url, readA.secret)).toEqual({ a_song_plays_count: 5, a_skips_count: 2 }));
    await expectEventually(async () => expect(await seriesOn(service.url, readB.secret)).toEqual({ b_song_plays_count: 11 }));

    const page = await scrape(service.url, readA.secret);
    expect(page.contentType).toBe(TEXT_CONTENT_TYPE);
    // Window statistics are gauges stamped with the window's end; the counters are cumulative.
    expect(page.text).toContain('# TYPE a_song_plays gauge');
    expect(page.text).toContain(`a_song_plays{quantile="0.99",region="eu-west"} 3 ${t0 + 10_000}\n`);
    expect(page.text).toContain(`a_song_plays_max{region="eu-west"} 3 ${t0 + 10_000}\n`);
    expect(page.text).toContain('# TYPE a_song_plays_points_total counter');
    expect(page.text).not.toContain('b_song_plays');
  });

  it('refuses a missing or unknown key with 401, and a valid key without read with 403, each with a JSON error', async () => {
    for (const key of [undefined, 'hr_0123456789abcdef_' + 'A'.repeat(43)]) {
      const res = await scrape(service.url, key);
      expect(res.status).toBe(401);
      expect(JSON.parse(res.text)).toMatchObject({ error: 'unauthorized' });
    }
    const ingestOnly = await scrape(service.url, ingestA.secret);
    expect(ingestOnly.status).toBe(403);
    expect(JSON.parse(ingestOnly.text)).toMatchObject({ error: 'forbidden' });
  });

  it("takes the tenant from the key only: A's key asking for B still gets A", async () => {
    const asB = await seriesOn(service.url, readA.secret, `/v1/prometheus/metrics?tenant=${tenantB}`, { 'x-tenant': tenantB, 'hr-tenant': tenantB });
    expect(asB).toEqual({ a_song_plays_count: 5, a_skips_count: 2 });
  });

  it('never lets a replayed older window overwrite a newer one', async () => {
    await publisher.publish(AggregateBatchMessage, [{ tenant: tenantA, value: { windows: [window('a_song_plays', t0 + 10_000, 7)] } }]);
    await expectEventually(async () => expect((await seriesOn(service.url, readA.secret))['a_song_plays_count']).toBe(7));
    // The replay, then a marker on the same tenant key (same partition, so handled after the replay).
    await publisher.publish(AggregateBatchMessage, [{ tenant: tenantA, value: { windows: [window('a_song_plays', t0, 99)] } }]);
    await publisher.publish(AggregateBatchMessage, [{ tenant: tenantA, value: { windows: [window('a_marker', t0, 1)] } }]);
    await expectEventually(async () => expect(await seriesOn(service.url, readA.secret)).toHaveProperty('a_marker_count', 1));
    expect(await seriesOn(service.url, readA.secret)).toEqual({ a_song_plays_count: 7, a_skips_count: 2, a_marker_count: 1 });

    // Each window counted once: 5 + 7 points, the replay of the first window ignored.
    expect(await sampleOn(service.url, readA.secret, 'a_song_plays_points_total')).toEqual([{ value: 12, timestampMs: t0 + 20_000 }]);

    const pool = new Pool({ connectionString: infra.databaseUrl });
    try {
      const { rows } = await pool.query('select window_start, count from exporters.prometheus_windows where tenant = $1 and series_id = $2 order by window_start', [
        tenantA,
        'a_song_plays-eu-west',
      ]);
      expect(rows).toEqual([
        { window_start: String(t0), count: '5' },
        { window_start: String(t0 + 10_000), count: '7' },
      ]);
    } finally {
      await pool.end();
    }
  });

  it("reports series counts in its own /metrics without tenants' values", async () => {
    const own = await (await fetch(`${service.url}/metrics`, { headers: controlTrust().metricsHeaders })).text();
    expect(own).toContain(`headroom_exporter_series{tenant="${tenantA}"} 3`);
    expect(own).toContain(`headroom_exporter_series{tenant="${tenantB}"} 1`);
    expect(own).not.toMatch(/a_song_plays|b_song_plays/);
  });

  it('shuts down cleanly and, restarted, serves the same state from PostgreSQL and keeps counting from there', async () => {
    await expect(service.app.close()).resolves.toBeUndefined();
    // A group at the topic's end replays nothing from Kafka: whatever is served comes from PostgreSQL.
    service = await boot(await groupAtEnd());
    expect(await seriesOn(service.url, readA.secret)).toEqual({ a_song_plays_count: 7, a_skips_count: 2, a_marker_count: 1 });
    expect(await seriesOn(service.url, readB.secret)).toEqual({ b_song_plays_count: 11 });
    // A restart is no counter reset: the next window adds to the total kept in PostgreSQL.
    await publisher.publish(AggregateBatchMessage, [{ tenant: tenantA, value: { windows: [window('a_song_plays', t0 + 20_000, 3)] } }]);
    await expectEventually(async () => expect(await sampleOn(service.url, readA.secret, 'a_song_plays_points_total')).toEqual([{ value: 15, timestampMs: t0 + 30_000 }]));
  }, 60_000);
});
