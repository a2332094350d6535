/**
 * Analytics replicas under rebalances, on the real Kafka and PostgreSQL: two processes in one
 * consumer group share the telemetry partitions while a producer publishes sealed batches for four
 * tenants; one process is SIGKILLed and restarted under load, then a third joins. kafkajs
 * rebalances eagerly (docs/infra.md): every rebalance stops every member, partitions that move are
 * replayed by their new owner from the gated commit, and partitions a member keeps are fetched
 * again from that commit too (records the member already holds: they must not count twice).
 * Whatever happens, each tenant's stored windows must hold exactly the points the broker
 * acknowledged — per series and window — and keep holding them.
 *
 * The KEK is fresh per run (as in analytics.int-spec.ts): no other analytics process on the shared
 * servers can decrypt these tenants' records and write their windows. The group is fresh too, and
 * starts at the topic's current end.
 */
import { randomBytes } from 'node:crypto';
import { Pool } from 'pg';
import { ControlRecordMessage, controlKey, seriesKey, TelemetryBatchMessage, Topics, type ControlRecord, type MetricPoint } from '@headroom/contracts';
import { createWrappedKey, KeyEncryptionKey, TenantKeyring } from '@headroom/crypto';
import { createKafkaClient, RecordPublisher, recordKey } from '@headroom/kafka';
import { expectEventually, localSecrets, serviceEnv, ServiceProcess, silentLogger, testInfra, uniqueId, controlTrust } from '@headroom/testing';

const run = randomBytes(3).toString('hex');
const groupId = `analytics-rebalance-${run}`;
const secrets = { ...localSecrets(), kek: randomBytes(32).toString('base64') };
const kek = KeyEncryptionKey.fromBase64(secrets.kek);
const keyring = new TenantKeyring(kek);
const infra = testInfra();
const kafka = createKafkaClient({ brokers: infra.brokers, clientId: groupId, logger: silentLogger() });
const controlPublisher = new RecordPublisher(kafka, undefined, undefined, { signer: controlTrust().signer });
const telemetryPublisher = new RecordPublisher(kafka, keyring, undefined, { signer: controlTrust().signer });
const pool = new Pool({ connectionString: infra.databaseUrl, max: 2 });

const WINDOW_MS = 10_000;
/** Free ports: 5220–5226 are analytics.int-spec's, 5020 the e2e spec's. */
const PORTS = [5231, 5232, 5233];
/**
 * The producer runs until the third replica has joined and a little after (about 45 s: the
 * restart alone waits out the dead member's 30 s session), bounded by time and rounds.
 */
const PRODUCE_MAX_MS = 60_000;
const MAX_ROUNDS = 600;
const ROUND_GAP_MS = 100;
const POINTS_PER_BATCH = 20;
/**
 * Each tenant spreads its series over up to 4 partitions (key `tenant#k`), so the four tenants cover
 * most of the 12 telemetry partitions: whatever the member order, some of them stay with their
 * replica across a rebalance while others move.
 */
const SHARDS = 4;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function analytics(name: string, port: number): ServiceProcess {
  const env = { ...serviceEnv('analytics', secrets, { slackApiUrl: 'http://127.0.0.1:1/api/', groupPrefix: groupId }), ANALYTICS_GROUP_ID: groupId };
  return new ServiceProcess('analytics', port, env, `${groupId}-${name}`);
}

async function makeTenant(tenant: string): Promise<void> {
  const at = new Date().toISOString();
  const wrapped = createWrappedKey(kek, tenant, 'data', 1);
  keyring.add(wrapped);
  const records: ControlRecord[] = [
    { kind: 'tenant', tenant, displayName: tenant, status: 'active', shards: SHARDS, locale: 'en', createdAt: at },
    { kind: 'data_key', ...wrapped, state: 'active' },
  ];
  await controlPublisher.publish(ControlRecordMessage, records.map((r) => ({ key: controlKey(r), value: r })));
}

const SERIES: Pick<MetricPoint, 'name' | 'labels'>[] = [
  { name: 'api_latency_ms', labels: { route: '/play' } },
  { name: 'api_latency_ms', labels: { route: '/search' } },
  { name: 'api_latency_ms', labels: { route: '/upload' } },
  { name: 'queue_depth', labels: {} },
];

/**
 * One batch at the current time: most points within the last 400 ms, every fifth one 5–7 s old
 * (late when its window has already closed on the stream, merged into the stored window then).
 * Integer values, so sums are exact.
 */
function batchAt(now: number, round: number): MetricPoint[] {
  return Array.from({ length: POINTS_PER_BATCH }, (_, i) => {
    const s = SERIES[(round + i) % SERIES.length];
    const timestamp = i % 5 === 4 ? now - 5_000 - ((round * 7 + i) % 2_000) : now - ((round * 13 + i * 17) % 400);
    return { ...s, value: ((round * POINTS_PER_BATCH + i) % 997) + 1, timestamp };
  });
}

const canonical = (labels: Record<string, string>) => JSON.stringify(Object.fromEntries(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b))));
const windowKey = (name: string, labels: Record<string, string>, windowStart: number) => `${name}${canonical(labels)}@${windowStart}`;

/** Per (series, window start): count and sum of the points. */
function expectedWindows(points: MetricPoint[]): Record<string, { count: number; sum: number }> {
  const out: Record<string, { count: number; sum: number }> = {};
  for (const p of points) {
    const k = windowKey(p.name, p.labels, p.timestamp - (p.timestamp % WINDOW_MS));
    const w = (out[k] ??= { count: 0, sum: 0 });
    w.count++;
    w.sum += p.value;
  }
  return out;
}

async function storedWindows(tenant: string): Promise<Record<string, { count: number; sum: number }>> {
  const { rows } = await pool.query<{ name: string; labels: Record<string, string>; window_start: string; count: number; sum: number }>(
    'select name, labels, window_start, count::int as count, sum from analytics.windows_10s where tenant = $1',
    [tenant],
  );
  return Object.fromEntries(rows.map((r) => [windowKey(r.name, r.labels, Number(r.window_start)), { count: r.count, sum: r.sum }]));
}

async function storedCounts(tenants: string[]): Promise<Record<string, number>> {
  const { rows } = await pool.query<{ tenant: string; n: number }>('select tenant, sum(count)::int as n from analytics.windows_10s where tenant = any($1::text[]) group by tenant', [tenants]);
  return Object.fromEntries(tenants.map((t) => [t, rows.find((r) => r.tenant === t)?.n ?? 0]));
}

/** The telemetry partitions a replica has handled records of since its last rebalance (its lag gauge). */
async function owned(p: ServiceProcess): Promise<number[]> {
  const text = await fetch(`${p.url}/metrics`, { headers: controlTrust().metricsHeaders })
    .then((r) => r.text())
    .catch(() => '');
  const parts = [...text.matchAll(/^headroom_kafka_consumer_lag\{[^}]*topic="headroom\.telemetry\.v1"[^}]*partition="(\d+)"[^}]*\}/gm)].map((m) => Number(m[1]));
  return parts.sort((a, b) => a - b);
}

/**
 * The fresh group starts at the telemetry topic's current end: its history on the shared broker
 * (other runs' and benches' tenants, undecryptable under this run's KEK, each one a control-topic
 * sync and a DLQ record) would otherwise hold the replicas busy for most of the test.
 */
async function startGroupAtEnd(): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    // Explicit offsets: a "latest" marker (-1) would read as no commit, which the services take as the beginning.
    const ends = await admin.fetchTopicOffsets(Topics.telemetry.name);
    await admin.setOffsets({ groupId, topic: Topics.telemetry.name, partitions: ends.map((p) => ({ partition: p.partition, offset: p.high })) });
    const [committed] = await admin.fetchOffsets({ groupId, topics: [Topics.telemetry.name] });
    const byPartition = (ps: { partition: number; offset: string }[]) => Object.fromEntries(ps.map((p) => [p.partition, p.offset]));
    expect(byPartition(committed.partitions)).toEqual(byPartition(ends.map((p) => ({ partition: p.partition, offset: p.high }))));
  } finally {
    await admin.disconnect();
  }
}

async function groupMembers(): Promise<{ state: string; members: number }> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { groups } = await admin.describeGroups([groupId]);
    return { state: groups[0]?.state ?? 'Unknown', members: groups[0]?.members.length ?? 0 };
  } finally {
    await admin.disconnect();
  }
}

const tenants = [uniqueId('rb-a'), uniqueId('rb-b'), uniqueId('rb-c'), uniqueId('rb-d')];
/** Per tenant: the points of every publish the broker acknowledged, and of those it did not. */
const acked: Record<string, MetricPoint[]> = Object.fromEntries(tenants.map((t) => [t, []]));
const unacked: Record<string, number> = Object.fromEntries(tenants.map((t) => [t, 0]));
const processes: ServiceProcess[] = [];

/** Publishes a batch per tenant each round, until the time or round bound; returns the rounds sent. */
async function produce(stop: { requested: boolean }): Promise<number> {
  const deadline = Date.now() + PRODUCE_MAX_MS;
  let round = 0;
  for (; round < MAX_ROUNDS && Date.now() < deadline && !stop.requested; round++) {
    const now = Date.now();
    await Promise.all(
      tenants.map(async (tenant) => {
        const points = batchAt(now, round);
        // One record per shard, as collectors publish: all acknowledged together, or none.
        const byKey = new Map<string, MetricPoint[]>();
        for (const p of points) {
          const key = recordKey(tenant, SHARDS, seriesKey(p.name, p.labels));
          byKey.set(key, [...(byKey.get(key) ?? []), p]);
        }
        const batchId = randomBytes(8).toString('hex');
        const receivedAt = Date.now();
        try {
          await telemetryPublisher.publish(
            TelemetryBatchMessage,
            [...byKey].map(([key, ps]) => ({ tenant, key, value: { batchId, source: 'rebalance-int-spec', receivedAt, points: ps, events: [] } })),
          );
          acked[tenant].push(...points);
        } catch {
          unacked[tenant] += points.length;
        }
      }),
    );
    await sleep(ROUND_GAP_MS);
  }
  return round;
}

beforeAll(async () => {
  await controlPublisher.connect();
  await telemetryPublisher.connect();
  for (const t of tenants) await makeTenant(t);
  await startGroupAtEnd();
}, 60_000);

afterAll(async () => {
  // What a failed test left running; a passing run has stopped everything already.
  await Promise.all(processes.map((p) => p.kill()));
  await controlPublisher.disconnect();
  await telemetryPublisher.disconnect();
  await pool.end();
}, 60_000);

describe('analytics replicas across rebalances (processes, real servers)', () => {
  it('stores exactly the acknowledged points per tenant, series and window when a replica is SIGKILLed and restarted under load and a third joins', async () => {
    const [p1, p2] = [analytics('p1', PORTS[0]), analytics('p2', PORTS[1])];
    processes.push(p1, p2);
    await Promise.all([p1.start(90_000), p2.start(90_000)]);
    await expectEventually(async () => expect(await groupMembers()).toEqual({ state: 'Stable', members: 2 }), { timeoutMs: 30_000, intervalMs: 500 });

    /** What each replica owned along the way, for a failure's reader. */
    const owners: Record<string, Record<string, number[]>> = {};
    const snapshot = async (stage: string) => (owners[stage] = Object.fromEntries(await Promise.all(processes.map(async (p) => [p.name.slice(groupId.length + 1), await owned(p)]))));
    const stop = { requested: false };
    const producing = produce(stop);
    try {
      // Let both replicas window a few seconds of load, then crash one: no flush, no commit.
      await sleep(3_000);
      await snapshot('before the kill');
      expect(await p2.kill('SIGKILL')).toBeNull();
      // Restarted at once, under load. It joins only once the group drops the dead member (its
      // 30 s session); the survivor stops consuming meanwhile (eager rebalance), holding its open
      // windows, and a backlog grows.
      await p2.start(90_000);
      await sleep(1_000);
      await snapshot('after the restart');
      // A third replica joins, still under load. Two members becoming three, kafkajs' round robin
      // leaves 4 of the 12 partitions with their owner (and its open windows) whatever the member
      // order, and moves the others.
      const p3 = analytics('p3', PORTS[2]);
      processes.push(p3);
      await p3.start(90_000);
      await expectEventually(async () => expect(await groupMembers()).toEqual({ state: 'Stable', members: 3 }), { timeoutMs: 30_000, intervalMs: 500 });
      await sleep(3_000);
      await snapshot('after the third joined');
    } finally {
      stop.requested = true;
    }
    const rounds = await producing;
    expect(rounds).toBeGreaterThan(50);
    const sent = Object.fromEntries(tenants.map((t) => [t, acked[t].length]));
    expect(unacked).toEqual(Object.fromEntries(tenants.map((t) => [t, 0]))); // else the expected counts are ambiguous
    for (const t of tenants) expect(sent[t]).toBeGreaterThan(1_000);

    // Wait while some tenant is still short; an excess is final (a window counted twice).
    const settled = await expectEventually(
      async () => {
        const got = await storedCounts(tenants);
        if (tenants.some((t) => got[t] < sent[t])) throw new Error(`still short: ${JSON.stringify({ got, sent, owners })}`);
        return got;
      },
      { timeoutMs: 60_000, intervalMs: 1_000 },
    );
    if (JSON.stringify(settled) !== JSON.stringify(sent)) {
      // Where each tenant's records are and who owned them when, for a failure's reader.
      const { rows: partitions } = await pool.query<{ tenant: string; partition: number }>('select tenant, partition from analytics.progress where tenant = any($1::text[])', [tenants]);
      console.log(JSON.stringify({ rounds, sent, stored: settled, partitions, owners }, null, 1));
    }
    expect(settled).toEqual(sent);

    // Nothing counted twice nor lost in any window: per series and window start, the stored count
    // and sum are those of the acknowledged points.
    for (const t of tenants) expect({ tenant: t, windows: await storedWindows(t) }).toEqual({ tenant: t, windows: expectedWindows(acked[t]) });

    // And it stays so: nothing replayed later adds to a window (polled for a few seconds).
    const until = Date.now() + 5_000;
    while (Date.now() < until) {
      expect(await storedCounts(tenants)).toEqual(sent);
      await sleep(1_000);
    }

    const codes = await Promise.all(processes.map((p) => p.stop(30_000)));
    expect(codes).toEqual(processes.map(() => 0));
  }, 170_000);
});
