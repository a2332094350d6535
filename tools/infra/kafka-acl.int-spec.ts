/**
 * Only control may write the control topic, enforced by the broker: a secured KRaft Kafka 3.9.1
 * (./secured-broker.ts) with the StandardAuthorizer, `User:admin` as the only super user, and
 * nothing allowed without an ACL; SCRAM-SHA-512 users for admin, each service and an intruder. The
 * ACLs are set by `tools/infra/cli.ts acls` (the deployment Job) from the access table
 * (libs/contracts topic-access.ts), then real clients try what each service may and may not do.
 * Last, the five services run as processes on that broker, each with its own user and default group
 * ids, on a database of their own: a tenant's points go from collectors through analytics to its
 * Prometheus endpoint at exporters; control records forged by the super user (the one principal
 * besides control the broker lets write the control topic) are refused by every service, counted
 * and dead-lettered, and change nothing; a subject erasure completes with every service's
 * acknowledgement on the erasure topic.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Pool } from 'pg';
import { aclBindings, ControlRecordMessage, DlqRecordSchema, Headers, HEADROOM_SERVICES, topicAccess, Topics, type AclBinding, type ControlRecord, type HeadroomService } from '@headroom/contracts';
import { ControlRecordSigner, generateControlSigningKeys } from '@headroom/crypto';
import { applyAcls, CODEC_PLAIN, CompactedTopicReader, createKafkaClient, produceRawRecords, readRawRecords, type KafkaClient, type KafkaTarget } from '@headroom/kafka';
import { ControlClient, controlTrust, expectEventually, localSecrets, serviceEnv, ServiceProcess, silentLogger, testInfra } from '@headroom/testing';
import { SecuredBroker, freePort, runCli } from './secured-broker';

const run = randomBytes(3).toString('hex');
const password = (user: string) => `${user}-pw-${randomBytes(9).toString('hex')}`;
const USERS = ['admin', ...HEADROOM_SERVICES, 'intruder'] as const;
type User = (typeof USERS)[number];
const PASSWORDS = Object.fromEntries(USERS.map((u) => [u, password(u)])) as Record<User, string>;

const broker = new SecuredBroker({
  name: 'kafka-acl-int',
  plainUsers: { admin: PASSWORDS.admin },
  scramUsers: USERS.map((name) => ({ mechanism: 'SCRAM-SHA-512' as const, name, password: PASSWORDS[name] })),
  authorizer: { superUsers: ['User:admin'] },
});

const targetAs = (user: User): KafkaTarget => ({
  brokers: [broker.saslBrokers],
  security: { protocol: 'SASL_PLAINTEXT', sasl: { mechanism: 'scram-sha-512', username: user, password: PASSWORDS[user] } },
});
const clientAs = (user: User): KafkaClient => createKafkaClient({ ...targetAs(user), clientId: `acl-spec-${user}`, logger: silentLogger() });

/**
 * A client whose broker error codes are kept: kafkajs turns a refused FindCoordinator
 * (GROUP_AUTHORIZATION_FAILED) into "failed to find group coordinator", with the broker's code only
 * in its debug log.
 */
function observedClientAs(user: User): { kafka: KafkaClient; brokerErrors: string[] } {
  const brokerErrors: string[] = [];
  const record = (obj: object) => {
    const type = (obj as { kafka?: { error?: { type?: unknown } } }).kafka?.error?.type;
    if (typeof type === 'string') brokerErrors.push(type);
  };
  const kafka = createKafkaClient({ ...targetAs(user), clientId: `acl-spec-${user}`, logger: { info: record, warn: record, error: record, debug: record } });
  kafka.logger().setLogLevel(5 as Parameters<ReturnType<KafkaClient['logger']>['setLogLevel']>[0]);
  return { kafka, brokerErrors };
}

/** The refusal, or for a coordinator "not found" the broker's own authorization error behind it. */
function refusalOf(err: unknown, brokerErrors: readonly string[]): string {
  const type = refusal(err);
  if (!type.includes('KafkaJSGroupCoordinatorNotFound')) return type;
  return brokerErrors.find((t) => t.endsWith('_AUTHORIZATION_FAILED')) ?? type;
}

/** The KAFKA_* settings of `user`, the way a service or the Job gets them (password from a mounted file). */
const envAs = (user: User): Record<string, string> => ({
  KAFKA_BROKERS: broker.saslBrokers,
  KAFKA_SECURITY_PROTOCOL: 'SASL_PLAINTEXT',
  KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
  KAFKA_SASL_USERNAME: user,
  KAFKA_SASL_PASSWORD_FILE: broker.file(`${user}.password`, `${PASSWORDS[user]}\n`),
});

/** The protocol error kafkajs reports, through its wrappers (retries, aggregates): e.g. TOPIC_AUTHORIZATION_FAILED. */
function refusal(err: unknown): string {
  const seen = new Set<unknown>();
  const walk = (e: unknown): string | undefined => {
    if (!e || typeof e !== 'object' || seen.has(e)) return undefined;
    seen.add(e);
    const o = e as { type?: unknown; cause?: unknown; originalError?: unknown; errors?: unknown[] };
    if (typeof o.type === 'string') return o.type;
    for (const next of [o.cause, o.originalError, ...(Array.isArray(o.errors) ? o.errors : [])]) {
      const found = walk(next);
      if (found) return found;
    }
    return undefined;
  };
  return walk(err) ?? `unexpected: ${String(err)}`;
}

/** Produces one record as `user`, by default with an idempotent producer (as RecordPublisher does): 'ok' or the refusal. */
async function produceAs(user: User, topic: string, opts: { key?: string; idempotent?: boolean } = {}): Promise<string> {
  const idempotent = opts.idempotent ?? true;
  const key = opts.key ?? `acl-spec/${run}`;
  const producer = clientAs(user).producer({ idempotent, maxInFlightRequests: 1, allowAutoTopicCreation: false, retry: { retries: 1 } });
  try {
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: [{ key, value: `from ${user}`, headers: { [Headers.tenant]: `acl-${run}` } }] });
    return 'ok';
  } catch (err) {
    return refusal(err);
  } finally {
    await producer.disconnect().catch(() => undefined);
  }
}

/** Joins `groupId` as `user` and reads `topic` from its start: 'read' once a record arrives, or the refusal. */
async function consumeAs(user: User, groupId: string, topic: string, timeoutMs = 30_000): Promise<string> {
  const { kafka, brokerErrors } = observedClientAs(user);
  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false, maxWaitTimeInMs: 100, retry: { retries: 0, restartOnFailure: async () => false } });
  let settle!: (outcome: string) => void;
  const outcome = new Promise<string>((resolve) => (settle = resolve));
  const timer = setTimeout(() => settle('timeout: nothing read, nothing refused'), timeoutMs);
  consumer.on(consumer.events.CRASH, (e) => settle(refusalOf(e.payload.error, brokerErrors)));
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async () => settle('read') });
  } catch (err) {
    settle(refusalOf(err, brokerErrors));
  }
  try {
    return await outcome;
  } finally {
    clearTimeout(timer);
    await consumer.disconnect().catch(() => undefined);
  }
}

/** Reads another group's committed offsets as `user` (what a lag monitor does): 'ok' or the refusal. */
async function fetchOffsetsAs(user: User, groupId: string): Promise<string> {
  const { kafka, brokerErrors } = observedClientAs(user);
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.fetchOffsets({ groupId });
    return 'ok';
  } catch (err) {
    return refusalOf(err, brokerErrors);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

jest.setTimeout(120_000);

beforeAll(async () => {
  await broker.start();
  // The Job's two steps, as admin over SCRAM-SHA-512: the registry topics, then the table's ACLs.
  const topics = await runCli(['topics'], envAs('admin'));
  expect(topics).toEqual({ code: 0, output: expect.stringMatching(/topics: created/) });
  const acls = await runCli(['acls'], envAs('admin'));
  expect(acls).toEqual({ code: 0, output: expect.stringMatching(/acls: \d+ created, 0 already there/) });
  // KRaft applies an ACL once the broker has replayed it from the metadata log: an instant later.
  await expectEventually(async () => expect(await produceAs('control', Topics.control.name)).toBe('ok'), { timeoutMs: 15_000 });
}, 240_000);

afterAll(() => broker.stop());

describe('cli.ts acls (the deployment Job) as the super user', () => {
  it('is idempotent: a second run finds every binding of the table and creates none', async () => {
    const table = aclBindings(topicAccess());
    const again = await runCli(['acls'], envAs('admin'));
    expect(again).toEqual({ code: 0, output: expect.stringContaining(`acls: 0 created, ${table.length} already there (${table.length} in the table)`) });
  });

  it('keeps a binding the table lacks (and says so) until --prune deletes it; then the broker refuses what it allowed', async () => {
    const stray: AclBinding = { resourceType: 'topic', resourceName: Topics.aggregates.name, patternType: 'literal', principal: 'User:exporters', operation: 'write' };
    await applyAcls(broker.adminTarget, [stray]);
    await expectEventually(async () => expect(await produceAs('exporters', Topics.aggregates.name)).toBe('ok'), { timeoutMs: 15_000 });

    const kept = await runCli(['acls'], envAs('admin'));
    expect(kept.code).toBe(0);
    expect(kept.output).toContain('1 binding(s) of the table');
    expect(kept.output).toContain(`? User:exporters ALLOW WRITE on TOPIC LITERAL "${Topics.aggregates.name}"`);
    expect(await produceAs('exporters', Topics.aggregates.name)).toBe('ok');

    const pruned = await runCli(['acls', '--prune'], envAs('admin'));
    expect(pruned.code).toBe(0);
    expect(pruned.output).toContain(`- User:exporters ALLOW WRITE on TOPIC LITERAL "${Topics.aggregates.name}"`);
    await expectEventually(async () => expect(await produceAs('exporters', Topics.aggregates.name)).toBe('TOPIC_AUTHORIZATION_FAILED'), { timeoutMs: 15_000 });
  });

  it('as a service user it may not change ACLs at all', async () => {
    const attempt = await runCli(['acls'], envAs('collectors'));
    expect(attempt.code).toBe(1);
    expect(attempt.output).toMatch(/infra acls failed at step "acls": .*CLUSTER_AUTHORIZATION_FAILED|Cluster authorization failed/i);
  });

  it('refuses group ids that would let one service join another’s groups, before connecting', async () => {
    const attempt = await runCli(['acls'], { ...envAs('admin'), ANALYTICS_GROUP_ID: 'control' });
    expect(attempt.code).toBe(1);
    expect(attempt.output).toContain('analytics and control could both join group "control-audit"');
  });
});

describe('the control topic', () => {
  it('control produces to it (idempotent producer, no cluster-level grant)', async () => {
    expect(await produceAs('control', Topics.control.name)).toBe('ok');
  });

  it.each(['collectors', 'analytics', 'alerting', 'exporters'] as const)('%s producing to it is refused by the broker', async (user) => {
    expect(await produceAs(user, Topics.control.name)).toBe('TOPIC_AUTHORIZATION_FAILED');
    expect(await produceAs(user, Topics.control.name, { idempotent: false })).toBe('TOPIC_AUTHORIZATION_FAILED');
  });

  it('an unknown user is refused a producer id (it may write no topic at all), and the topic itself', async () => {
    expect(await produceAs('intruder', Topics.control.name)).toBe('CLUSTER_AUTHORIZATION_FAILED');
    expect(await produceAs('intruder', Topics.control.name, { idempotent: false })).toBe('TOPIC_AUTHORIZATION_FAILED');
  });

  it('every service reads it to its end through its own control reader group; an unknown user cannot', async () => {
    expect(await produceAs('control', Topics.control.name, { key: `acl-spec/readers-${run}` })).toBe('ok');
    for (const service of HEADROOM_SERVICES) {
      const reader = new CompactedTopicReader(clientAs(service), { contract: ControlRecordMessage, groupPrefix: `${service}-control`, logger: silentLogger(), apply: () => undefined });
      try {
        await reader.start();
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise((r) => (timer = setTimeout(() => r(`${service}: timeout`), 20_000)));
        await expect(Promise.race([reader.waitUntilCaughtUp().then(() => `${service}: caught up`), timeout]).finally(() => clearTimeout(timer))).resolves.toBe(`${service}: caught up`);
      } finally {
        await reader.stop();
      }
    }
    const intruder = new CompactedTopicReader(clientAs('intruder'), { contract: ControlRecordMessage, groupPrefix: 'collectors-control', logger: silentLogger(), apply: () => undefined });
    expect(await intruder.start().then(() => 'started', refusal)).toBe('TOPIC_AUTHORIZATION_FAILED');
    await intruder.stop().catch(() => undefined);
  });

  it('a reader cannot borrow another service’s control reader group', async () => {
    expect(await consumeAs('collectors', `alerting-control-${run}`, Topics.control.name)).toBe('GROUP_AUTHORIZATION_FAILED');
  });
});

describe('the pipeline topics', () => {
  it('collectors produces telemetry, but not aggregates, signals or alerts', async () => {
    expect(await produceAs('collectors', Topics.telemetry.name)).toBe('ok');
    for (const topic of [Topics.aggregates.name, Topics.signals.name, Topics.alerts.name]) expect([topic, await produceAs('collectors', topic)]).toEqual([topic, 'TOPIC_AUTHORIZATION_FAILED']);
  });

  it('collectors can neither join control’s groups nor read their offsets', async () => {
    expect(await consumeAs('collectors', 'control-audit', Topics.control.name)).toBe('GROUP_AUTHORIZATION_FAILED');
    expect(await fetchOffsetsAs('collectors', 'control-audit')).toBe('GROUP_AUTHORIZATION_FAILED');
  });

  it('analytics reads telemetry in its own groups, and is refused under another prefix', async () => {
    expect(await produceAs('collectors', Topics.telemetry.name)).toBe('ok');
    expect(await consumeAs('analytics', `analytics-acl-${run}`, Topics.telemetry.name)).toBe('read');
    expect(await consumeAs('analytics', `alerting-acl-${run}`, Topics.telemetry.name)).toBe('GROUP_AUTHORIZATION_FAILED');
    expect(await consumeAs('analytics', `acl-${run}`, Topics.telemetry.name)).toBe('GROUP_AUTHORIZATION_FAILED');
  });

  it('a service cannot read a topic outside its inputs even in its own group', async () => {
    expect(await consumeAs('exporters', `exporters-acl-${run}`, Topics.telemetry.name)).toBe('TOPIC_AUTHORIZATION_FAILED');
  });

  it('every service writes audit and dlq; the intruder writes nothing', async () => {
    for (const user of HEADROOM_SERVICES) {
      for (const topic of [Topics.audit.name, Topics.dlq.name]) expect([user, topic, await produceAs(user, topic)]).toEqual([user, topic, 'ok']);
    }
    expect(await produceAs('intruder', Topics.telemetry.name, { idempotent: false })).toBe('TOPIC_AUTHORIZATION_FAILED');
  });
});

describe('the five services as processes on the secured broker, each with its own user', () => {
  const secrets = localSecrets();
  const trust = controlTrust(secrets);
  const dbName = `kafka_acl_${process.pid}_${run}`;
  const pg = new Pool({ connectionString: testInfra().databaseUrl, max: 1 });
  // Control first: the others are ready only once they have read the control topic it creates records on.
  const ORDER = ['control', 'collectors', 'analytics', 'alerting', 'exporters'] as const satisfies readonly HeadroomService[];
  const services: Partial<Record<HeadroomService, ServiceProcess>> = {};
  const svc = (service: HeadroomService): ServiceProcess => services[service]!;
  const tenant = `acl-${run}`;
  const keys = { ingest: '', read: '', admin: '' };
  let control!: ControlClient;

  async function startService(service: HeadroomService, databaseUrl: string): Promise<void> {
    // Default group ids: the ones `cli.ts acls` granted. Logs go to tmp/test-logs, which outlives the broker's dir.
    const env = { ...serviceEnv(service, secrets, { slackApiUrl: 'http://127.0.0.1:1/api/' }), ...envAs(service), DATABASE_URL: databaseUrl };
    const p = new ServiceProcess(service, await freePort(), env, `kafka-acl-${service}-${run}`);
    services[service] = p;
    await p.start(120_000);
  }

  async function ingest(route: 'metrics' | 'events', key: string, body: object): Promise<number> {
    const res = await fetch(`${svc('collectors').url}/v1/ingest/${route}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    await res.arrayBuffer();
    return res.status;
  }

  /** The tenant's Prometheus endpoint at exporters, as the tenant's Prometheus scrapes it. */
  async function scrape(key: string): Promise<{ status: number; text: string }> {
    const res = await fetch(`${svc('exporters').url}/v1/prometheus/metrics`, { headers: { authorization: `Bearer ${key}` } });
    return { status: res.status, text: await res.text() };
  }

  /** `headroom_control_records_refused_total{code}` of one service, from the /metrics its scraper reads. */
  async function refusedCount(service: HeadroomService, code: string): Promise<number> {
    const res = await fetch(`${svc(service).url}/metrics`, { headers: trust.metricsHeaders });
    expect({ service, status: res.status }).toEqual({ service, status: 200 });
    const match = new RegExp(`^headroom_control_records_refused_total\\{[^}]*code="${code}"[^}]*\\} (\\d+)`, 'm').exec(await res.text());
    return match ? Number(match[1]) : 0;
  }

  /** Committed offsets of `groupId` on `topic`, summed, read as admin (a lag monitor's view). */
  async function committed(groupId: string, topic: string): Promise<number> {
    const admin = clientAs('admin').admin();
    await admin.connect();
    try {
      const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
      return offsets.partitions.reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
    } finally {
      await admin.disconnect();
    }
  }

  beforeAll(async () => {
    // The services' own database: their tenants, outbox and windows must not mix with the shared stack's.
    await pg.query(`create database ${dbName}`);
    const databaseUrl = new URL(testInfra().databaseUrl);
    databaseUrl.pathname = `/${dbName}`;
    const t0 = Date.now();
    await startService('control', databaseUrl.toString());
    const others = await Promise.allSettled(ORDER.slice(1).map((s) => startService(s, databaseUrl.toString())));
    const failed = others.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed) throw failed.reason;
    console.log(JSON.stringify({ spec: 'kafka-acl', fiveServicesReadyMs: Date.now() - t0 }));
    control = new ControlClient(svc('control').url, secrets.adminToken);
    await control.createTenant({ id: tenant, displayName: 'ACL test', locale: 'en', shards: 1 });
    keys.ingest = await control.createApiKey(tenant, ['ingest']);
    keys.read = await control.createApiKey(tenant, ['read']);
    keys.admin = await control.createApiKey(tenant, ['admin']);
  }, 300_000);

  afterAll(async () => {
    const running = ORDER.filter((s) => services[s]);
    const codes: Record<string, number | null> = {};
    // Control last: the others' shutdown still publishes (audit, acks) through the broker, not through it.
    await Promise.all(running.filter((s) => s !== 'control').map(async (s) => (codes[s] = await svc(s).stop())));
    if (services.control) codes.control = await svc('control').stop();
    await pg.query(`drop database if exists ${dbName} with (force)`).catch(() => undefined);
    await pg.end();
    // Each shut down cleanly on SIGTERM with its own Kafka user (offsets committed, producers flushed).
    expect(codes).toEqual(Object.fromEntries(running.map((s) => [s, 0])));
  }, 120_000);

  it('a tenant created through control reaches collectors, which accepts its telemetry onto the topic', async () => {
    const point = () => ({ points: [{ name: 'acl_probe', labels: {}, value: 1, timestamp: Date.now() }] });
    await expectEventually(async () => expect(await ingest('metrics', keys.ingest, point())).toBe(202), { timeoutMs: 30_000 });
    const records = await readRawRecords(clientAs('admin'), Topics.telemetry.name, {
      filter: (r) => r.headers[Headers.tenant] === tenant,
      until: (rs) => rs.length >= 1,
      timeoutMs: 20_000,
    });
    expect(records.length).toBeGreaterThanOrEqual(1);
  });

  it('carries the tenant’s points from collectors through analytics to its Prometheus endpoint at exporters, each consumer in its own group', async () => {
    const t0 = Date.now();
    // Points keep coming until a window holding them has closed (10 s windows) and reached exporters.
    await expectEventually(
      async () => {
        expect(await ingest('metrics', keys.ingest, { points: [{ name: 'acl_latency_ms', labels: { route: '/acl' }, value: 4321, timestamp: Date.now() }] })).toBe(202);
        const { status, text } = await scrape(keys.read);
        expect(status).toBe(200);
        expect(text).toMatch(/^acl_latency_ms_max\{[^}]*route="\/acl"[^}]*\} 4321(\s|$)/m);
      },
      { timeoutMs: 90_000, intervalMs: 1_000 },
    );
    console.log(JSON.stringify({ spec: 'kafka-acl', ingestToPrometheusMs: Date.now() - t0 }));
    // The series is the tenant's own: its ingest key cannot read it, and no credential sees it without one.
    expect((await scrape(keys.ingest)).status).toBe(403);
    expect((await scrape('')).status).toBe(401);
    // Telemetry was consumed under analytics' group, aggregates under exporters' and alerting's: what their group ACLs allow.
    await expectEventually(
      async () => {
        const groups = {
          analytics: await committed('analytics', Topics.telemetry.name),
          exporters: await committed('exporters', Topics.aggregates.name),
          alerting: await committed('alerting', Topics.aggregates.name),
        };
        expect({ analytics: groups.analytics > 0, exporters: groups.exporters > 0, alerting: groups.alerting > 0 }).toEqual({ analytics: true, exporters: true, alerting: true });
      },
      { timeoutMs: 30_000, intervalMs: 1_000 },
    );
  });

  it('a control record forged by the super user is refused by every service (counted and dead-lettered), takes no effect, and the tenant keeps working', async () => {
    // What someone holding the broker's admin credentials could write: an API key of their own, signed
    // with their own Ed25519 key, and an unsigned erasure of the tenant.
    const attacker = ControlRecordSigner.fromBase64(generateControlSigningKeys().signingKey);
    const keyId = randomBytes(8).toString('hex');
    const secret = `hr_${keyId}_${randomBytes(32).toString('base64url')}`;
    const apiKey: ControlRecord = { kind: 'api_key', keyId, tenant, secretHash: createHash('sha256').update(secret).digest('hex'), scopes: ['ingest', 'read', 'admin'], createdAt: new Date().toISOString() };
    const erasure: ControlRecord = { kind: 'tenant_erased', tenant, erasedAt: new Date().toISOString() };
    const topic = Topics.control.name;
    const plain = { [Headers.schema]: ControlRecordMessage.id, [Headers.codec]: CODEC_PLAIN, [Headers.keyVersion]: 'none' };
    const forged = [
      { key: `api_key/${keyId}`, value: Buffer.from(JSON.stringify(apiKey)), code: 'control_unknown_signer' },
      { key: `tenant_erased/${tenant}`, value: Buffer.from(JSON.stringify(erasure)), code: 'control_unsigned' },
    ];
    const records = forged.map(({ key, value, code }) => ({
      key,
      value,
      headers: code === 'control_unsigned' ? plain : { ...plain, ...attacker.sign({ topic, key, schema: ControlRecordMessage.id, codec: CODEC_PLAIN }, value) },
    }));

    const countsNow = async () => {
      const out: Record<string, number> = {};
      for (const service of ORDER) for (const { code } of forged) out[`${service} ${code}`] = await refusedCount(service, code);
      return out;
    };
    const before = await countsNow();
    await produceRawRecords(clientAs('admin'), topic, records);

    // Each service refused each record on its own: its counter went up.
    await expectEventually(
      async () => {
        const after = await countsNow();
        expect(Object.fromEntries(Object.keys(after).map((k) => [k, after[k] > before[k]]))).toEqual(Object.fromEntries(Object.keys(after).map((k) => [k, true])));
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    // And dead-lettered it with the reason, under its own Kafka user.
    const dlqKeys = new Set(forged.map((f) => `control:${f.key}`));
    const dead = await readRawRecords(clientAs('admin'), Topics.dlq.name, {
      filter: (r) => r.key !== null && dlqKeys.has(r.key),
      until: (rs) => rs.length >= ORDER.length * forged.length,
      timeoutMs: 30_000,
    });
    const entries = dead.map((r) => DlqRecordSchema.parse(JSON.parse(r.value!.toString('utf8'))));
    for (const { key, code } of forged) {
      const mine = entries.filter((e) => e.source.key === key);
      expect({ key, services: [...new Set(mine.map((e) => e.service))].sort(), codes: [...new Set(mine.map((e) => e.code))] }).toEqual({ key, services: [...ORDER].sort(), codes: [code] });
    }

    // Nothing took effect: the forged key opens nothing, and the "erased" tenant ingests and is scraped.
    expect(await ingest('metrics', secret, { points: [{ name: 'acl_forged', labels: {}, value: 1, timestamp: Date.now() }] })).toBe(401);
    expect((await scrape(secret)).status).toBe(401);
    expect(await ingest('metrics', keys.ingest, { points: [{ name: 'acl_latency_ms', labels: { route: '/acl' }, value: 1, timestamp: Date.now() }] })).toBe(202);
    const { status, text } = await scrape(keys.read);
    expect(status).toBe(200);
    expect(text).toMatch(/^acl_latency_ms_max\{[^}]*route="\/acl"/m);
  });

  it('erases a data subject with the acknowledgement of every service, through the erasure topic’s grants', async () => {
    const userId = `acl-user-${run}`;
    const records = async () => {
      const res = await fetch(`${svc('analytics').url}/v1/subjects/${encodeURIComponent(userId)}/records`, { headers: { authorization: `Bearer ${keys.admin}` } });
      expect(res.status).toBe(200);
      return ((await res.json()) as { events: unknown[] }).events;
    };
    const events = [{ type: 'song_play', timestamp: Date.now(), trackId: `acl-track-${run}`, userId, durationMs: 1_000, country: 'FR' }];
    expect(await ingest('events', keys.ingest, { events })).toBe(202);
    await expectEventually(async () => expect(await records()).toHaveLength(1), { timeoutMs: 30_000, intervalMs: 500 });

    const t0 = Date.now();
    const erase = await control.request<{ id: string }>('POST', `/v1/tenants/${tenant}/subjects/${encodeURIComponent(userId)}/erasure`);
    expect(erase.status).toBe(202);
    type Ack = 'pending' | { status: string; deleted: Record<string, number> };
    let progress!: { complete: boolean; services: Record<string, Ack> };
    await expectEventually(
      async () => {
        const res = await control.request<typeof progress>('GET', `/v1/erasures/${erase.body.id}`);
        expect(res.status).toBe(200);
        progress = res.body;
        expect(progress.complete).toBe(true);
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    console.log(JSON.stringify({ spec: 'kafka-acl', subjectErasureCompleteMs: Date.now() - t0 }));
    for (const service of ORDER) {
      const ack = progress.services[service];
      expect({ service, ack: ack === 'pending' || ack === undefined ? ack : ack.status }).toEqual({ service, ack: expect.stringMatching(/^(done|partial)$/) });
    }
    const analytics = progress.services['analytics'];
    expect(analytics !== 'pending' && analytics.deleted['analytics.subject_events']).toBe(1);
    expect(await records()).toEqual([]);
  });
});
