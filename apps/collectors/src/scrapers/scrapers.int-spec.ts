/**
 * Built-in scrapers end to end: control and TWO collectors replicas as processes, both configured
 * (COLLECTORS_SCRAPERS) to scrape every second, for a tenant created first, the host, the real
 * Redis, the real PostgreSQL, Kafka consumer lag, control's /healthz (and a port nobody listens on),
 * control's Node runtime (its /metrics) and their own. What they publish is read back from headroom.telemetry.v1 and opened with the tenant's
 * key: plausible values, the tenant's only, each cluster scraper once per interval across the two
 * replicas (the Redis lease), node_runtime once per replica; then the lease holder is stopped and
 * the other replica takes over. A third replica is configured for a tenant created only later. The
 * lease's Lua compare is checked on the real Redis too.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import Redis from 'ioredis';
import { Headers, Topics, type MetricPoint, type TelemetryBatch } from '@headroom/contracts';
import { KeyEncryptionKey } from '@headroom/crypto';
import { createKafkaClient, readRawRecords, type RawRecord } from '@headroom/kafka';
import { TenantDirectory } from '@headroom/tenancy';
import { ControlClient, expectEventually, localSecrets, serviceEnv, ServiceProcess, silentLogger, testInfra, uniqueId, openTelemetryRecord, tenantDirectoryFor, controlTrust } from '@headroom/testing';
import { leaseKey, RedisLeaseStore, ScrapeLeases } from './lease';

const secrets = localSecrets();
const kek = KeyEncryptionKey.fromBase64(secrets.kek, 'kek-1');
const infra = testInfra();
const slackApiUrl = 'http://127.0.0.1:1/api/';
const T = uniqueId('scr');
const controlProcess = new ServiceProcess('control', 5440, serviceEnv('control', secrets, { slackApiUrl }), 'control-scrapers-int');
const control = new ControlClient(controlProcess.url, secrets.adminToken);
const healthz = `${controlProcess.url}/healthz`;
const nobody = 'http://127.0.0.1:5449/';
/** A consumer group that committed offset 0 on every telemetry partition: its lag is each partition's end. */
const lagGroup = `scrapers-int-lag-${T}`;
const scrapersEnv = JSON.stringify({
  tenant: T,
  intervalMs: 1000,
  scrapers: [
    { type: 'host' },
    { type: 'redis', url: infra.redisUrl },
    { type: 'postgres', url: infra.databaseUrl },
    { type: 'http_probe', targets: [{ url: healthz }, { url: nobody }], timeoutMs: 800 },
    { type: 'node_runtime' },
    { type: 'kafka', groups: [lagGroup] },
    { type: 'service_runtime', targets: [{ url: `${controlProcess.url}/metrics`, service: 'control' }] },
  ],
});
const replicas = [5441, 5442].map(
  (port, i) => new ServiceProcess('collectors', port, { ...serviceEnv('collectors', secrets, { slackApiUrl }), COLLECTORS_SCRAPERS: scrapersEnv }, `collectors-scrapers-int-${i + 1}`),
);
/** A third replica configured for a tenant that does not exist yet: it must keep running, count, and start once it appears. */
const U = uniqueId('scr-late');
const lateReplica = new ServiceProcess(
  'collectors',
  5443,
  { ...serviceEnv('collectors', secrets, { slackApiUrl }), COLLECTORS_SCRAPERS: JSON.stringify({ tenant: U, intervalMs: 1000, scrapers: [{ type: 'host' }] }) },
  'collectors-scrapers-int-late',
);
const kafka = createKafkaClient({ brokers: infra.brokers, clientId: 'scrapers-int-spec', logger: silentLogger() });
const CLUSTER_TYPES = ['host', 'redis', 'postgres', 'http_probe', 'kafka', 'service_runtime'];

/** What the services would know from the control topic, for this run's tenant(s) only. */
const directoryFor = (tenant: string) => tenantDirectoryFor(kafka, kek, [tenant]);

function open(directory: TenantDirectory, r: RawRecord): TelemetryBatch {
  return openTelemetryRecord(directory, r);
}

/** A counter's value on one replica's /metrics, e.g. `headroom_scrapes_total` with `scraper="redis"`. */
async function counterOn(replica: ServiceProcess, name: string, ...labels: string[]): Promise<number> {
  const text = await (await fetch(`${replica.url}/metrics`, { headers: controlTrust().metricsHeaders })).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && labels.every((x) => l.includes(x)));
  return line ? Number(line.split(' ').pop()) : 0;
}
const scrapesOn = (replica: ServiceProcess, scraper: string) => counterOn(replica, 'headroom_scrapes_total', `scraper="${scraper}"`);

const slotsOf = (batches: TelemetryBatch[], type: string) => batches.filter((b) => b.source === `scraper:${type}`).map((b) => b.points[0].timestamp);

describe('built-in scrapers (control + two collectors replicas as processes; real Redis, PostgreSQL, Kafka)', () => {
  let directory: TenantDirectory;
  let redis: Redis;

  /** Where this run's lines start in the late replica's log (appended across runs). */
  let lateLogStart = 0;

  beforeAll(async () => {
    lateLogStart = existsSync(lateReplica.logFile) ? statSync(lateReplica.logFile).size : 0;
    redis = new Redis(infra.redisUrl);
    await controlProcess.start();
    expect((await control.createTenant({ id: T, displayName: 'Platform ops (scrapers int)' })).status).toBe(201);
    directory = await directoryFor(T);
    const admin = kafka.admin();
    await admin.connect();
    await admin.setOffsets({ groupId: lagGroup, topic: Topics.telemetry.name, partitions: Array.from({ length: Topics.telemetry.partitions }, (_, partition) => ({ partition, offset: '0' })) });
    await admin.disconnect();
    // Both replicas read the tenant from the control topic before they are ready.
    await Promise.all([...replicas, lateReplica].map((r) => r.start()));
  }, 90_000);

  afterAll(async () => {
    await Promise.all([...replicas, lateReplica].map((r) => r.stop()));
    await controlProcess.stop();
    redis.disconnect();
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteGroups([lagGroup]).catch(() => undefined);
    await admin.disconnect();
  }, 60_000);

  it("publishes every scraper's points as the tenant, plausible, each cluster scraper once per interval across two replicas", async () => {
    const batches: TelemetryBatch[] = [];
    const enough = () =>
      CLUSTER_TYPES.every((t) => new Set(slotsOf(batches, t)).size >= 5) &&
      new Set(batches.filter((b) => b.source === 'scraper:node_runtime').flatMap((b) => b.points.map((p) => p.labels['instance']))).size === 2;
    const records = await readRawRecords(kafka, Topics.telemetry.name, {
      filter: (r) => r.headers[Headers.tenant] === T || (r.key ?? '').split('#')[0] === T,
      until: (rs) => {
        batches.push(open(directory, rs[rs.length - 1]));
        return enough();
      },
      timeoutMs: 30_000,
    });
    expect(enough()).toBe(true);
    // The tenant's records only, keyed by it, opened with its key (open() throws otherwise).
    for (const r of records) expect([r.key, r.headers[Headers.tenant]]).toEqual([T, T]);
    expect(new Set(batches.map((b) => b.source))).toEqual(new Set([...CLUSTER_TYPES, 'node_runtime'].map((t) => `scraper:${t}`)));

    // Once per interval: one batch per slot per cluster scraper (never one from each replica), slots on the second.
    for (const type of CLUSTER_TYPES) {
      const slots = slotsOf(batches, type);
      expect({ type, duplicates: slots.length - new Set(slots).size }).toEqual({ type, duplicates: 0 });
      for (const s of slots) expect(s % 1000).toBe(0);
      const span = (Math.max(...slots) - Math.min(...slots)) / 1000 + 1;
      expect(new Set(slots).size / span).toBeGreaterThanOrEqual(0.7);
    }
    // node_runtime runs on each replica: at most one batch per replica per slot.
    const runtime = batches.filter((b) => b.source === 'scraper:node_runtime');
    const perReplicaSlot = runtime.map((b) => `${b.points[0].labels['instance']}@${b.points[0].timestamp}`);
    expect(perReplicaSlot.length).toBe(new Set(perReplicaSlot).size);

    const points = batches.flatMap((b) => b.points);
    const last = (name: string, labels: Record<string, string> = {}): MetricPoint => {
      const found = points.filter((p) => p.name === name && Object.entries(labels).every(([k, v]) => p.labels[k] === v));
      expect({ name, labels, found: found.length > 0 }).toEqual({ name, labels, found: true });
      return found[found.length - 1];
    };
    // scraper_up 1 for each (every scraper reached its server)
    for (const name of [...CLUSTER_TYPES, 'node_runtime']) expect(last('scraper_up', { scraper: name }).value).toBe(1);
    // host
    expect(last('host_memory_total_bytes').value).toBeGreaterThan(0);
    expect(last('host_memory_available_bytes').value).toBeGreaterThan(0);
    expect(last('host_memory_utilisation_ratio').value).toBeGreaterThan(0);
    expect(last('host_memory_utilisation_ratio').value).toBeLessThanOrEqual(1);
    expect(last('host_cpu_utilisation_ratio').value).toBeGreaterThanOrEqual(0);
    expect(last('host_cpu_utilisation_ratio').value).toBeLessThanOrEqual(1);
    expect(last('host_cpu_seconds_total', { mode: 'idle' }).value).toBeGreaterThan(0);
    expect(last('host_load1').value).toBeGreaterThanOrEqual(0);
    expect(last('host_filesystem_size_bytes', { mountpoint: '/' }).value).toBeGreaterThan(0);
    expect(last('host_filesystem_avail_bytes', { mountpoint: '/' }).value).toBeLessThanOrEqual(last('host_filesystem_size_bytes', { mountpoint: '/' }).value);
    expect(points.some((p) => p.name === 'host_network_receive_bytes_total' && p.labels['device'] !== 'lo')).toBe(true);
    // redis
    const redisInstance = `${new URL(infra.redisUrl).hostname}:${new URL(infra.redisUrl).port || 6379}`;
    expect(last('redis_connected_clients', { instance: redisInstance }).value).toBeGreaterThanOrEqual(1);
    expect(last('redis_memory_used_bytes').value).toBeGreaterThan(0);
    expect(last('redis_instantaneous_ops_per_second').value).toBeGreaterThanOrEqual(0);
    expect(last('redis_evicted_keys_total').value).toBeGreaterThanOrEqual(0);
    const ratio = last('redis_keyspace_hit_ratio').value;
    expect(ratio).toBeGreaterThanOrEqual(0);
    expect(ratio).toBeLessThanOrEqual(1);
    // postgres
    const datname = new URL(infra.databaseUrl).pathname.slice(1);
    expect(last('pg_stat_database_numbackends', { datname }).value).toBeGreaterThanOrEqual(1);
    expect(last('pg_xact_commit_total', { datname }).value).toBeGreaterThan(0);
    expect(last('pg_cache_hit_ratio', { datname }).value).toBeGreaterThan(0);
    expect(last('pg_cache_hit_ratio', { datname }).value).toBeLessThanOrEqual(1);
    expect(last('pg_deadlocks_total', { datname }).value).toBeGreaterThanOrEqual(0);
    expect(last('pg_longest_query_seconds').value).toBeGreaterThanOrEqual(0);
    expect(last('pg_max_connections').value).toBeGreaterThan(0);
    expect(last('pg_in_recovery').value).toBe(0);
    // credentials never reach a label
    expect(JSON.stringify(points)).not.toContain('headroom:headroom@');
    // http_probe
    expect(last('probe_http_status_code', { target: healthz }).value).toBe(200);
    expect(last('probe_success', { target: healthz }).value).toBe(1);
    expect(last('probe_duration_seconds', { target: healthz }).value).toBeGreaterThan(0);
    expect(last('probe_duration_seconds', { target: healthz }).value).toBeLessThan(1);
    expect(last('probe_success', { target: nobody }).value).toBe(0);
    expect(last('probe_http_status_code', { target: nobody }).value).toBe(0);
    // kafka: the group's lag on every telemetry partition, end − 0 (the tenant's partition keeps growing)
    const lagBatch = batches.filter((b) => b.source === 'scraper:kafka').pop()!;
    const lags = lagBatch.points.filter((p) => p.name === 'kafka_consumergroup_lag' && p.labels['group'] === lagGroup && p.labels['topic'] === Topics.telemetry.name);
    expect(lags.map((p) => Number(p.labels['partition'])).sort((a, b) => a - b)).toEqual(Array.from({ length: Topics.telemetry.partitions }, (_, i) => i));
    const sum = lagBatch.points.find((p) => p.name === 'kafka_consumergroup_lag_sum' && p.labels['group'] === lagGroup)!;
    expect(sum.value).toBe(lags.reduce((a, p) => a + p.value, 0));
    expect(sum.value).toBeGreaterThan(0);
    for (const p of lags) {
      const end = lagBatch.points.find((e) => e.name === 'kafka_topic_partition_current_offset' && e.labels['partition'] === p.labels['partition'])!;
      expect(p.value).toBe(end.value);
    }
    // service_runtime: control's Node runtime, read from its /metrics
    const controlRuntime = { service: 'control', instance: '127.0.0.1:5440' };
    expect(last('service_runtime_up', controlRuntime).value).toBe(1);
    expect(last('nodejs_heap_used_bytes', controlRuntime).value).toBeGreaterThan(0);
    expect(last('process_resident_memory_bytes', controlRuntime).value).toBeGreaterThan(last('nodejs_heap_used_bytes', controlRuntime).value);
    expect(last('nodejs_eventloop_lag_p99_seconds', controlRuntime).value).toBeGreaterThanOrEqual(0);
    // node_runtime, per replica
    for (const instance of new Set(runtime.map((b) => b.points[0].labels['instance']))) {
      expect(last('nodejs_heap_used_bytes', { instance, service: 'collectors' }).value).toBeGreaterThan(0);
      expect(last('process_resident_memory_bytes', { instance }).value).toBeGreaterThan(last('nodejs_heap_used_bytes', { instance }).value);
      expect(last('nodejs_eventloop_lag_p99_seconds', { instance }).value).toBeGreaterThanOrEqual(0);
    }

    // Only one replica scraped each cluster scraper; its lease is in Redis with its TTL (3 intervals).
    for (const type of CLUSTER_TYPES) {
      const counts = await Promise.all(replicas.map((r) => scrapesOn(r, type)));
      expect({ type, holders: counts.filter((c) => c > 0).length }).toEqual({ type, holders: 1 });
      const ttl = await redis.pttl(leaseKey(T, type));
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(3000);
    }
  });

  it('the lease holder stops (SIGTERM, exit 0, leases released): the other replica takes over at the next interval', async () => {
    const counts = await Promise.all(replicas.map((r) => scrapesOn(r, 'redis')));
    const holder = counts[0] > 0 ? 0 : 1;
    const other = replicas[1 - holder];
    const before = await scrapesOn(other, 'redis');
    expect(await replicas[holder].stop()).toBe(0);
    await expectEventually(async () => expect(await scrapesOn(other, 'redis')).toBeGreaterThanOrEqual(before + 2), { timeoutMs: 8_000, intervalMs: 250 });
    for (const type of CLUSTER_TYPES) expect(await scrapesOn(other, type)).toBeGreaterThan(0);
  });

  it('a tenant that does not exist yet: counted as unknown_tenant, the replica keeps serving; scraping starts once control creates it', async () => {
    await expectEventually(async () => expect(await counterOn(lateReplica, 'headroom_scraper_errors_total', 'scraper="host"', 'reason="unknown_tenant"')).toBeGreaterThanOrEqual(2), { timeoutMs: 5_000 });
    expect((await fetch(`${lateReplica.url}/readyz`)).status).toBe(200);
    expect(await scrapesOn(lateReplica, 'host')).toBe(0);
    expect(readFileSync(lateReplica.logFile).subarray(lateLogStart).toString('utf8')).toContain('scrapers: tenant unknown');
    expect((await control.createTenant({ id: U, displayName: 'Created after collectors started' })).status).toBe(201);
    await expectEventually(async () => expect(await scrapesOn(lateReplica, 'host')).toBeGreaterThanOrEqual(1), { timeoutMs: 10_000, intervalMs: 250 });
  });

  it("the lease's compare-and-renew and compare-and-release never touch another replica's lease (real Redis)", async () => {
    const key = `hr:scraper:lease:int-spec:${randomUUID()}`;
    const store = new RedisLeaseStore(redis);
    const a = new ScrapeLeases(store, 'a', 1000);
    const b = new ScrapeLeases(store, 'b', 1000);
    expect(await a.claim(key)).toBe(true);
    expect(await b.claim(key)).toBe(false);
    expect(await store.renew(key, 'b', 60_000)).toBe(false);
    expect(await store.release(key, 'b')).toBe(false);
    expect(await redis.get(key)).toBe('a');
    expect(await a.claim(key)).toBe(true); // renewed
    expect(await redis.pttl(key)).toBeGreaterThan(500);
    await expectEventually(async () => expect(await redis.exists(key)).toBe(0), { timeoutMs: 3_000, intervalMs: 100 });
    expect(await b.claim(key)).toBe(true);
    expect(await a.claim(key)).toBe(false);
    await a.releaseAll();
    expect(await redis.get(key)).toBe('b');
    await b.releaseAll();
    expect(await redis.exists(key)).toBe(0);
  });
});
