/**
 * The push sinks end to end: sealed aggregate batches go through the real Kafka into exporters
 * services (in-process, each with its own consumer groups), out to a real Prometheus
 * (`--web.enable-remote-write-receiver`, Debian's 2.42) and a real VictoriaMetrics (built by
 * `npm run infra:up`), and are read back with PromQL.
 *
 * Three services consume the same records:
 * - `pair`: remote_write (label mode) → Prometheus, and InfluxDB line protocol (bucket per tenant) → gateway → VictoriaMetrics;
 * - `vmLabel`: remote_write (label mode) → VictoriaMetrics;
 * - `vmOrg`: remote_write (X-Scope-OrgID mode) → gateway → VictoriaMetrics.
 * Single-node VictoriaMetrics has no tenants (its `/insert/<accountID>/…` form is the cluster's
 * vminsert), so a small gateway stands in for Mimir / InfluxDB's multi-tenancy: it records each
 * request's X-Scope-OrgID or bucket and forwards it with `extra_label=org_id=…` / `bucket=…`. The
 * tests then read each tenant's data through that label, and check what the gateway saw.
 */
import { randomBytes } from 'node:crypto';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Registry } from 'prom-client';
import { AggregateBatchMessage, ControlRecordMessage, controlKey, Headers, Topics, type AggregateWindow, type ControlRecord, type DlqRecord } from '@headroom/contracts';
import { createWrappedKey, KeyEncryptionKey, TenantKeyring } from '@headroom/crypto';
import { createKafkaClient, ensureTopics, RecordPublisher } from '@headroom/kafka';
import { loadConfig } from '@headroom/config';
import { createLogger } from '@headroom/runtime';
import { expectEventually, PrometheusProcess, TenantGateway, testInfra, uniqueId, VictoriaMetricsProcess, type PromSeries, controlTrust } from '@headroom/testing';
import { AppModule } from '../app.module';
import { exportersEnvSchema } from '../config';

const infra = testInfra();
const kekBase64 = randomBytes(32).toString('base64');
const kek = KeyEncryptionKey.fromBase64(kekBase64, 'kek-1');
const logger = createLogger('exporters', process.env['LOG_LEVEL'] ?? 'silent');
const run = Date.now().toString(36);
const A = uniqueId('sink-a');
const B = uniqueId('sink-b');
const at = new Date().toISOString();

const prometheus = new PrometheusProcess('prometheus-sinks');
const vm = new VictoriaMetricsProcess('vm-sinks');
const gateway = new TenantGateway(() => vm.url);

function window(name: string, windowStart: number, count: number, windowMs = 10_000, labels: Record<string, string> = { region: 'eu-west' }): AggregateWindow {
  return { series: { name, labels }, seriesId: `${name}-${JSON.stringify(labels)}`, windowStart, windowMs, count, sum: count * 2, min: 1, max: count, p50: 2, p95: 2.5, p99: count - 0.5 };
}

interface Service {
  app: NestFastifyApplication;
  metrics: Registry;
  groupId: string;
}

async function metricValue(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return 0;
  const values = (await metric.get()).values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x));
  return values.reduce((n, v) => n + v.value, 0);
}

/** [timestamp, value] pairs of the series whose labels include `match`. */
function samplesOf(series: PromSeries[], match: Record<string, string>): [number, number][][] {
  return series.filter((s) => Object.entries(match).every(([k, v]) => s.labels[k] === v)).map((s) => s.samples);
}

describe('export sinks (real Kafka, Prometheus, VictoriaMetrics)', () => {
  const kafka = createKafkaClient({ brokers: infra.brokers, clientId: 'sinks-int-spec', logger });
  const keyring = new TenantKeyring(kek);
  const publisher = new RecordPublisher(kafka, keyring, undefined, { signer: controlTrust().signer });
  const services: Record<'pair' | 'vmLabel' | 'vmOrg', Service> = {} as never;

  /** New consumer groups (the service's own and one per sink) positioned at the topic's end. */
  async function groupsAtEnd(groupId: string, sinks: string[]): Promise<void> {
    const admin = kafka.admin();
    await admin.connect();
    try {
      for (const g of [groupId, ...sinks.map((s) => `${groupId}-${s}`)]) await admin.resetOffsets({ groupId: g, topic: Topics.aggregates.name, earliest: false });
    } finally {
      await admin.disconnect();
    }
  }

  /**
   * This run's tenants' DLQ records written since `from` (partition offsets) by consumer groups
   * starting with `groupPrefix`, as {group, code, reason}. The shared DLQ also holds other runs'
   * records (sealed under their KEKs, which these groups cannot open): those do not count.
   */
  async function dlqSince(from: { partition: number; offset: string }[], groupPrefix: string): Promise<Pick<DlqRecord, 'consumerGroup' | 'code' | 'reason'>[]> {
    const admin = kafka.admin();
    await admin.connect();
    const groupId = uniqueId('sinks-dlq-reader');
    const ends = new Map((await admin.fetchTopicOffsets(Topics.dlq.name)).map((p) => [p.partition, BigInt(p.high)]));
    await admin.setOffsets({ groupId, topic: Topics.dlq.name, partitions: from });
    await admin.disconnect();
    const pending = new Set([...ends].filter(([p, high]) => high > BigInt(from.find((f) => f.partition === p)?.offset ?? '0')).map(([p]) => p));
    const found: Pick<DlqRecord, 'consumerGroup' | 'code' | 'reason'>[] = [];
    const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic: Topics.dlq.name });
      let done!: () => void;
      const finished = new Promise<void>((r) => (done = r));
      if (pending.size === 0) done();
      await consumer.run({
        eachMessage: async ({ partition, message }) => {
          const entry = JSON.parse(message.value?.toString('utf8') ?? 'null') as DlqRecord | null;
          const tenant = entry?.source.headers[Headers.tenant];
          if (entry?.consumerGroup.startsWith(groupPrefix) && (tenant === A || tenant === B)) found.push({ consumerGroup: entry.consumerGroup, code: entry.code, reason: entry.reason });
          if (BigInt(message.offset) + 1n >= (ends.get(partition) ?? 0n)) pending.delete(partition);
          if (pending.size === 0) done();
        },
      });
      await Promise.race([finished, new Promise((r) => setTimeout(r, 20_000))]);
      expect(pending.size).toBe(0);
      return found;
    } finally {
      await consumer.disconnect();
    }
  }

  async function dlqEnd(): Promise<{ partition: number; offset: string }[]> {
    const admin = kafka.admin();
    await admin.connect();
    try {
      return (await admin.fetchTopicOffsets(Topics.dlq.name)).map((p) => ({ partition: p.partition, offset: p.high }));
    } finally {
      await admin.disconnect();
    }
  }

  async function boot(env: Record<string, string>, sinks: string[]): Promise<Service> {
    const groupId = uniqueId('sinks-int');
    await groupsAtEnd(groupId, sinks);
    const config = loadConfig(exportersEnvSchema, {
      HEADROOM_KEK: kekBase64, ...controlTrust().env,
      KAFKA_BROKERS: infra.brokers.join(','),
      DATABASE_URL: infra.databaseUrl,
      PORT: '0',
      LOG_LEVEL: 'silent',
      EXPORTERS_GROUP_ID: groupId,
      // Short waits so the outage test sees the circuit open within its 15 s.
      EXPORT_SINK_BASE_BACKOFF_MS: '100',
      EXPORT_SINK_MAX_BACKOFF_MS: '2000',
      ...env,
    });
    expect(config.sinks.map((s) => s.type)).toEqual(sinks);
    const metrics = new Registry();
    const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config, logger, metrics), new FastifyAdapter(), { logger: false });
    await app.listen(0, '127.0.0.1');
    // Every sink consumer has joined its group once /readyz says so.
    await expectEventually(async () => {
      const res = await app.inject({ method: 'GET', url: '/readyz' });
      if (res.statusCode !== 200) throw new Error(`not ready: ${res.body}`);
    }, { timeoutMs: 45_000 });
    return { app, metrics, groupId };
  }

  beforeAll(async () => {
    await Promise.all([prometheus.start(), vm.start(), gateway.start()]);
    await ensureTopics(infra.brokers, [Topics.control, Topics.aggregates, Topics.dlq]);
    await publisher.connect();
    const records: ControlRecord[] = [];
    for (const tenant of [A, B]) {
      records.push({ kind: 'tenant', tenant, displayName: tenant, status: 'active', shards: 1, locale: 'en', createdAt: at });
      const key = createWrappedKey(kek, tenant, 'data', 1);
      keyring.add(key);
      records.push({ kind: 'data_key', ...key, state: 'active' });
    }
    await publisher.publish(ControlRecordMessage, records.map((value) => ({ key: controlKey(value), value })));
    const [pair, vmLabel, vmOrg] = await Promise.all([
      boot({ EXPORT_REMOTE_WRITE_URL: `${prometheus.url}/api/v1/write`, EXPORT_INFLUXDB_URL: gateway.url, EXPORT_INFLUXDB_PREFIX: '', EXPORT_INFLUXDB_TOKEN: 'not-checked' }, ['remote_write', 'influxdb']),
      boot({ EXPORT_REMOTE_WRITE_URL: `${vm.url}/api/v1/write` }, ['remote_write']),
      boot({ EXPORT_REMOTE_WRITE_URL: `${gateway.url}/api/v1/write`, EXPORT_REMOTE_WRITE_MODE: 'org-id' }, ['remote_write']),
    ]);
    Object.assign(services, { pair, vmLabel, vmOrg });
  }, 120_000);

  afterAll(async () => {
    await Promise.all(Object.values(services).map((s) => s.app.close()));
    await publisher.disconnect();
    await Promise.all([prometheus.stop(), vm.stop(), gateway.stop()]);
  }, 60_000);

  describe('two tenants, each exported correctly and isolated', () => {
    const m = `sk_plays_${run}`;
    // Recent, aligned windows (Prometheus refuses samples far older than its head).
    const t0 = Math.floor(Date.now() / 10_000) * 10_000 - 60_000;
    const ends = [t0 + 10_000, t0 + 20_000];

    beforeAll(async () => {
      await publisher.publish(AggregateBatchMessage, [
        { tenant: A, value: { windows: [window(m, t0, 5), window(m, t0 + 10_000, 6)] } },
        { tenant: B, value: { windows: [window(m, t0, 11), window(m, t0 + 10_000, 12)] } },
      ]);
    });

    it('remote_write → Prometheus: every window at its end timestamp, labelled with its tenant only', async () => {
      const counts = await expectEventually(async () => {
        const series = await prometheus.query(`${m}_count[10m]`);
        expect(series).toHaveLength(2);
        return series;
      }, { timeoutMs: 30_000 });
      expect(samplesOf(counts, { tenant: A, region: 'eu-west' })).toEqual([[[ends[0], 5], [ends[1], 6]]]);
      expect(samplesOf(counts, { tenant: B, region: 'eu-west' })).toEqual([[[ends[0], 11], [ends[1], 12]]]);
      const quantiles = await prometheus.query(`${m}{tenant="${A}"}[10m]`);
      expect(Object.fromEntries(quantiles.map((s) => [s.labels['quantile'], s.samples]))).toEqual({
        '0.5': [[ends[0], 2], [ends[1], 2]],
        '0.95': [[ends[0], 2.5], [ends[1], 2.5]],
        '0.99': [[ends[0], 4.5], [ends[1], 5.5]],
      });
      const max = await prometheus.query(`${m}_max{tenant="${B}"}[10m]`);
      expect(max.map((s) => s.samples)).toEqual([[[ends[0], 11], [ends[1], 12]]]);
      // PromQL over the exported gauges answers what the windows say.
      const sum = await prometheus.query(`sum by (tenant) (sum_over_time(${m}_count[10m]))`);
      expect(Object.fromEntries(sum.map((s) => [s.labels['tenant'], s.samples[0][1]]))).toEqual({ [A]: 11, [B]: 23 });
    });

    it('remote_write → VictoriaMetrics in label mode: the same samples', async () => {
      const counts = await expectEventually(async () => {
        const series = (await vm.query(`${m}_count{tenant!=""}[10m]`)).filter((s) => !s.labels['org_id'] && !s.labels['bucket']);
        expect(series).toHaveLength(2);
        return series;
      }, { timeoutMs: 30_000 });
      expect(samplesOf(counts, { tenant: A })).toEqual([[[ends[0], 5], [ends[1], 6]]]);
      expect(samplesOf(counts, { tenant: B })).toEqual([[[ends[0], 11], [ends[1], 12]]]);
    });

    it('remote_write in X-Scope-OrgID mode: one request per tenant with its header, no tenant label', async () => {
      const counts = await expectEventually(async () => {
        const series = await vm.query(`${m}_count{org_id!=""}[10m]`);
        expect(series).toHaveLength(2);
        return series;
      }, { timeoutMs: 30_000 });
      expect(counts.map((s) => s.labels).sort((x, y) => x['org_id'].localeCompare(y['org_id']))).toEqual([
        { __name__: `${m}_count`, region: 'eu-west', org_id: A },
        { __name__: `${m}_count`, region: 'eu-west', org_id: B },
      ]);
      expect(samplesOf(counts, { org_id: A })).toEqual([[[ends[0], 5], [ends[1], 6]]]);
      expect(samplesOf(counts, { org_id: B })).toEqual([[[ends[0], 11], [ends[1], 12]]]);
      const writes = gateway.requests.filter((r) => r.path === '/api/v1/write');
      expect(writes.length).toBeGreaterThanOrEqual(2);
      for (const w of writes) {
        expect([A, B]).toContain(w.headers['x-scope-orgid']);
        expect(w.headers['content-encoding']).toBe('snappy');
      }
    });

    it('InfluxDB line protocol → VictoriaMetrics /api/v2/write: one bucket per tenant, <measurement>_<field> read back', async () => {
      const counts = await expectEventually(async () => {
        const series = await vm.query(`${m}_count{bucket!=""}[10m]`);
        expect(series).toHaveLength(2);
        return series;
      }, { timeoutMs: 30_000 });
      expect(samplesOf(counts, { bucket: A, region: 'eu-west' })).toEqual([[[ends[0], 5], [ends[1], 6]]]);
      expect(samplesOf(counts, { bucket: B, region: 'eu-west' })).toEqual([[[ends[0], 11], [ends[1], 12]]]);
      const p99 = await vm.query(`${m}_p99{bucket="${A}"}[10m]`);
      expect(p99.map((s) => s.samples)).toEqual([[[ends[0], 4.5], [ends[1], 5.5]]]);
      const writes = gateway.requests.filter((r) => r.path === '/api/v2/write');
      expect(new Set(writes.map((w) => w.tenant))).toEqual(new Set([A, B]));
      for (const w of writes) expect(w.headers['authorization']).toBe('Token not-checked');
    });
  });

  it("a window Prometheus refuses (older than the series' last sample) goes to the DLQ with the sink's code; the other sink takes it", async () => {
    const o = `sk_order_${run}`;
    const t = Math.floor(Date.now() / 10_000) * 10_000 - 30_000;
    const dlqStart = await dlqEnd();
    await publisher.publish(AggregateBatchMessage, [{ tenant: A, value: { windows: [window(o, t, 3)] } }]);
    await expectEventually(async () => expect(await prometheus.query(`${o}_count[10m]`)).toHaveLength(1), { timeoutMs: 20_000 });
    await publisher.publish(AggregateBatchMessage, [{ tenant: A, value: { windows: [window(o, t - 10_000, 2)] } }]);

    await expectEventually(async () => expect((await vm.query(`${o}_count{bucket="${A}"}[10m]`)).map((x) => x.samples)).toEqual([[[t, 2], [t + 10_000, 3]]]), { timeoutMs: 20_000 });
    const dead = await expectEventually(async () => {
      const entries = await dlqSince(dlqStart, services.pair.groupId);
      expect(entries).toHaveLength(1);
      return entries[0];
    }, { timeoutMs: 30_000, intervalMs: 1_000 });
    expect(dead).toMatchObject({ consumerGroup: `${services.pair.groupId}-remote_write`, code: 'sink_remote_write_bad_request' });
    expect(dead.reason).toMatch(/out of (order|bounds)/);
    expect(await metricValue(services.pair.metrics, 'headroom_exporter_points_total', { sink: 'remote_write', outcome: 'rejected' })).toBe(1);
    expect((await prometheus.query(`${o}_count[10m]`)).map((x) => x.samples)).toEqual([[[t + 10_000, 3]]]);
  }, 60_000);

  it('a stopped VictoriaMetrics holds up only its own sink: Prometheus stays on time, and every window of the outage reaches VictoriaMetrics when it returns', async () => {
    const s = `sk_stream_${run}`;
    const { pair } = services;
    const published: number[] = [];
    let publishing = true;
    // One 1 s window per second, published as it closes, for the whole test.
    const stream = (async () => {
      let count = 1;
      while (publishing) {
        const start = Math.floor(Date.now() / 1000) * 1000;
        await new Promise((r) => setTimeout(r, start + 1000 - Date.now() + 20));
        await publisher.publish(AggregateBatchMessage, [{ tenant: A, value: { windows: [window(s, start, count, 1000)] } }]);
        published.push(start + 1000);
        count += 1;
      }
    })();
    const latestIn = async (store: PrometheusProcess | VictoriaMetricsProcess, selector: string) => {
      const series = await store.query(`${s}_count{${selector}}[5m]`);
      return Math.max(0, ...series.flatMap((x) => x.samples.map(([t]) => t)));
    };

    const dlqStart = await dlqEnd();
    try {
      await expectEventually(async () => expect(await latestIn(vm, `bucket="${A}"`)).toBeGreaterThan(0), { timeoutMs: 20_000 });
      await vm.stop();
      const stoppedAt = Date.now();

      // While it is down, Prometheus gets each window within about a second of its publication.
      await new Promise((r) => setTimeout(r, 8_000));
      for (let i = 0; i < 3; i++) {
        const target = published[published.length - 1];
        await expectEventually(async () => expect(await latestIn(prometheus, `tenant="${A}"`)).toBeGreaterThanOrEqual(target), { timeoutMs: 2_000, intervalMs: 100 });
        await new Promise((r) => setTimeout(r, 1_000));
      }
      expect(await metricValue(pair.metrics, 'headroom_exporter_sink_up', { sink: 'influxdb' })).toBe(0);
      expect(await metricValue(pair.metrics, 'headroom_exporter_sink_up', { sink: 'remote_write' })).toBe(1);
      expect(await metricValue(pair.metrics, 'headroom_exporter_points_total', { sink: 'influxdb', outcome: 'failed' })).toBeGreaterThan(0);

      await new Promise((r) => setTimeout(r, Math.max(0, 15_000 - (Date.now() - stoppedAt))));
      const outage = { from: stoppedAt, to: Date.now() };
      await vm.start();
      await new Promise((r) => setTimeout(r, 3_000));
      publishing = false;
      await stream;

      // Every window, including the ~15 published during the outage, with its own value.
      const expected = published.map((end, i) => [end, i + 1]);
      const inVm = await expectEventually(async () => {
        const series = await vm.query(`${s}_count{bucket="${A}"}[10m]`);
        expect(series.map((x) => x.samples)).toEqual([expected]);
        return series[0].samples;
      }, { timeoutMs: 45_000, intervalMs: 500 });
      expect(inVm.filter(([t]) => t > outage.from && t <= outage.to).length).toBeGreaterThanOrEqual(13);
      await expectEventually(async () => expect((await prometheus.query(`${s}_count{tenant="${A}"}[10m]`)).map((x) => x.samples)).toEqual([expected]));

      // Nothing was dead-lettered or rejected: the outage was waited out.
      expect(await dlqSince(dlqStart, pair.groupId)).toEqual([]);
      expect(await metricValue(pair.metrics, 'headroom_exporter_points_total', { sink: 'influxdb', outcome: 'rejected' })).toBe(0);
      expect(await metricValue(pair.metrics, 'headroom_exporter_sink_up', { sink: 'influxdb' })).toBe(1);
    } finally {
      publishing = false;
      await stream;
      if (!vm.isRunning()) await vm.start();
    }
  }, 120_000);
});
