/**
 * GDPR on the five services as processes, real Kafka, PostgreSQL and Redis. Tenant A sends events
 * of users u1 and u2 and metric points labelled with their pseudonyms; u1's records are exported
 * (right of access), then u1 is erased: every service acknowledges, and PostgreSQL holds nothing of
 * u1 (analytics events and windows, the exporters' series) while u2 is untouched. Then tenant B is
 * erased: every service acknowledges, and its telemetry still on Kafka cannot be decrypted by a
 * directory freshly built from the control topic with the deployment's KEK, while A's can.
 */
import { randomBytes } from 'node:crypto';
import { Pool } from 'pg';
import { Headers, Topics } from '@headroom/contracts';
import { CryptoError, KeyEncryptionKey, TenantKeyring } from '@headroom/crypto';
import { TenantDirectory } from '@headroom/tenancy';
import { createKafkaClient, ensureTopics, readRawRecords, type RawRecord } from '@headroom/kafka';
import {
  ControlClient,
  expectEventually,
  localSecrets,
  openTelemetryRecord,
  SERVICES,
  serviceEnv,
  ServiceProcess,
  silentLogger,
  tenantDirectoryFor,
  testInfra,
  type ServiceName,
} from '@headroom/testing';

const run = randomBytes(3).toString('hex');
const secrets = localSecrets();
const infra = testInfra();
const kek = KeyEncryptionKey.fromBase64(secrets.kek, 'kek-1');
const kafka = createKafkaClient({ brokers: infra.brokers, clientId: `gdpr-${run}`, logger: silentLogger() });
const pool = new Pool({ connectionString: infra.databaseUrl, max: 2 });
const PORTS: Record<ServiceName, number> = { control: 5800, collectors: 5801, analytics: 5802, alerting: 5803, exporters: 5804 };
/** A small per-tenant cap on open subject erasures, so the flood below reaches it. */
const MAX_OPEN = 20;
const envOf = (name: ServiceName) => ({
  ...serviceEnv(name, secrets, { slackApiUrl: 'http://127.0.0.1:1/api/', groupPrefix: `gdpr-${run}` }),
  ...(name === 'control' ? { CONTROL_MAX_OPEN_SUBJECT_ERASURES: String(MAX_OPEN) } : {}),
});
const services = SERVICES.map((name) => new ServiceProcess(name, PORTS[name], envOf(name), `gdpr-${name}-${run}`));
const control = new ControlClient(`http://127.0.0.1:${PORTS.control}`, secrets.adminToken);
const A = `gdpr-a-${run}`;
const B = `gdpr-b-${run}`;
const keys: Record<string, string> = {};
/** Just before u1's erasure was requested: u1's data from before then is erased for good. */
let erasedBefore = 0;

interface Progress {
  id: string;
  scope: string;
  tenant: string;
  services: Record<string, 'pending' | { status: string; deleted: Record<string, number>; left: { store: string; reason: string }[] }>;
  complete: boolean;
  left: { service: string; store: string; reason: string }[];
}

async function post(path: string, key: string, body: unknown): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${PORTS.collectors}${path}`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  await res.arrayBuffer();
  return res.status;
}

async function records(userId: string): Promise<{ status: number; body: { subject: string; events: { type: string; event: { userId: string; trackId?: string } }[] } }> {
  const res = await fetch(`http://127.0.0.1:${PORTS.analytics}/v1/subjects/${encodeURIComponent(userId)}/records`, { headers: { authorization: `Bearer ${keys[A]}` } });
  return { status: res.status, body: (await res.json()) as never };
}

async function count(sql: string, params: unknown[]): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(`select count(*)::text as n from (${sql}) q`, params);
  return Number(rows[0].n);
}

/** Rows of each store that carry `pseudonym` (as a subject or a label value). */
async function holdings(tenant: string, pseudonym: string) {
  const byLabel = (table: string) => count(`select 1 from ${table} where tenant = $1 and exists (select 1 from jsonb_each_text(labels) l where l.value = $2)`, [tenant, pseudonym]);
  return {
    subjectEvents: await count('select 1 from analytics.subject_events where tenant = $1 and subject = $2', [tenant, pseudonym]),
    windows10s: await byLabel('analytics.windows_10s'),
    exporterSeries: await count(`select 1 from exporters.prometheus_series where tenant = $1 and strpos(series::text, $2) > 0`, [tenant, pseudonym]),
    alertRows: await count(`select 1 from alerting.alerts where tenant = $1 and strpos(labels::text, $2) > 0`, [tenant, pseudonym]),
  };
}

async function completed(id: string): Promise<Progress> {
  let last: Progress | undefined;
  await expectEventually(
    async () => {
      const res = await control.request<Progress>('GET', `/v1/erasures/${id}`);
      expect(res.status).toBe(200);
      last = res.body;
      expect(last.complete).toBe(true);
    },
    { timeoutMs: 60_000 },
  );
  return last!;
}

describe('GDPR erasure sagas (five services, real Kafka, PostgreSQL, Redis)', () => {
  jest.setTimeout(300_000);

  beforeAll(async () => {
    // The erasure topic is new: `npm run infra:up` creates it from the registry; a broker started before it may lack it.
    await ensureTopics(infra.brokers, [Topics.erasure], { clientId: `gdpr-topics-${run}` });
    for (const s of services) await s.start(90_000);
    for (const t of [A, B]) {
      await control.createTenant({ id: t, displayName: `GDPR ${t}`, locale: 'en', shards: 1 });
      keys[t] = await control.createApiKey(t, ['ingest', 'admin']);
    }
  });

  afterAll(async () => {
    // Tenant A has an alert config paging a Slack channel with the deployment's token: erased, no later
    // spec's alerting (on the same topics) evaluates its windows again and pages for it.
    await control.request('DELETE', `/v1/tenants/${A}`).catch(() => undefined);
    for (const s of [...services].reverse()) await s.stop().catch(() => undefined);
    await pool.end();
  });

  it('exports a subject’s records, erases the subject from every store with an acknowledgement from each service, and leaves the others intact', async () => {
    const directory = await tenantDirectoryFor(kafka, kek, [A]);
    const p1 = directory.keyring.pseudonymise(A, 'u1');
    const p2 = directory.keyring.pseudonymise(A, 'u2');
    // A rule that fires on both subjects' series, so alerting holds alerts labelled with each pseudonym.
    const config = await control.request('PUT', `/v1/tenants/${A}/alert-config`, {
      slackChannel: '#gdpr-oncall',
      rules: [{ id: 'subject-latency', metric: 'subject_latency_ms', stat: 'max', op: '>', threshold: 50, severity: 'warning' }],
    });
    expect(config.status).toBe(200);
    const now = Date.now();
    const events = ['u1', 'u2', 'u1'].map((userId, i) => ({ type: 'song_play', timestamp: now - i * 1000, trackId: `track-${i}`, userId, durationMs: 180_000, country: 'FR' }));
    await expectEventually(async () => expect(await post('/v1/ingest/events', keys[A], { events })).toBe(202), { timeoutMs: 30_000 });
    const points = [p1, p2].flatMap((user) => [0, 1, 2].map((i) => ({ name: 'subject_latency_ms', labels: { user }, value: 100 + i, timestamp: now - 30_000 + i * 1000 })));
    expect(await post('/v1/ingest/metrics', keys[A], { points })).toBe(202);

    // Every store holds both subjects before the erasure.
    await expectEventually(
      async () => {
        for (const p of [p1, p2]) {
          const h = await holdings(A, p);
          expect({ events: h.subjectEvents > 0, windows: h.windows10s > 0, exporters: h.exporterSeries > 0, alerts: h.alertRows > 0 }).toEqual({ events: true, windows: true, exporters: true, alerts: true });
        }
      },
      { timeoutMs: 60_000 },
    );

    // Right of access: u1's two plays, under its pseudonym; the raw id is not what is stored.
    const before = await records('u1');
    expect(before.status).toBe(200);
    expect(before.body.subject).toBe(p1);
    expect(before.body.events.map((e) => e.event.trackId).sort()).toEqual(['track-0', 'track-2']);
    expect(before.body.events.every((e) => e.type === 'song_play' && e.event.userId === p1)).toBe(true);

    erasedBefore = Date.now();
    const erase = await control.request<{ id: string }>('POST', `/v1/tenants/${A}/subjects/u1/erasure`);
    expect(erase.status).toBe(202);
    const progress = await completed(erase.body.id);
    expect(progress.scope).toBe('subject');
    for (const s of SERVICES) expect({ service: s, acked: progress.services[s] !== 'pending' }).toEqual({ service: s, acked: true });
    const analytics = progress.services['analytics'];
    expect(analytics !== 'pending' && analytics.deleted['analytics.subject_events']).toBe(2);
    expect(analytics !== 'pending' && analytics.deleted['analytics.windows_10s']).toBeGreaterThan(0);
    const exporters = progress.services['exporters'];
    // No push sink here: all exporters keeps is the pseudonym on its suppression list, named with its date.
    expect(exporters !== 'pending' && exporters.status).toBe('partial');
    expect(exporters !== 'pending' && exporters.left.map((l) => l.store)).toEqual(['exporters.erased_subjects']);
    expect(exporters !== 'pending' && exporters.deleted['exporters.prometheus_series']).toBe(1);
    // What could not be deleted is named with its reason: the sealed Kafka records until their retention.
    expect(progress.left.filter((l) => l.service === 'kafka').map((l) => l.store)).toContain(`kafka:${Topics.telemetry.name}`);
    expect(progress.left.every((l) => l.reason.length > 20)).toBe(true);

    expect(await holdings(A, p1)).toEqual({ subjectEvents: 0, windows10s: 0, exporterSeries: 0, alertRows: 0 });
    const u2 = await holdings(A, p2);
    expect({ events: u2.subjectEvents, windows: u2.windows10s > 0, exporters: u2.exporterSeries, alerts: u2.alertRows > 0 }).toEqual({ events: 1, windows: true, exporters: 1, alerts: true });

    const after = await records('u1');
    expect(after.status).toBe(200);
    expect(after.body.events).toEqual([]);
    expect((await records('u2')).body.events.map((e) => e.event.trackId)).toEqual(['track-1']);

    // Nothing of u1 comes back once the windows that were open at the request have closed and flushed.
    await new Promise((resolve) => setTimeout(resolve, 15_000));
    expect(await holdings(A, p1)).toEqual({ subjectEvents: 0, windows10s: 0, exporterSeries: 0, alertRows: 0 });
  });

  it('remembers an erased subject across a crash of analytics: u1’s late records from before the request are not stored again, u2’s are', async () => {
    const directory = await tenantDirectoryFor(kafka, kek, [A]);
    const p1 = directory.keyring.pseudonymise(A, 'u1');
    const p2 = directory.keyring.pseudonymise(A, 'u2');
    const analytics = services[SERVICES.indexOf('analytics')];
    await analytics.kill('SIGKILL');
    await analytics.start(90_000);
    // Late records, as a producer retrying an old batch (or a replay) would send them: timed before the request.
    const late = erasedBefore - 5_000;
    const events = ['u1', 'u2'].map((userId, i) => ({ type: 'song_play', timestamp: late - i, trackId: `late-${userId}`, userId, durationMs: 1_000, country: 'FR' }));
    await expectEventually(async () => expect(await post('/v1/ingest/events', keys[A], { events })).toBe(202), { timeoutMs: 30_000 });
    // u2's late play is stored (so the batch was processed), u1's is not.
    await expectEventually(async () => expect(await count(`select 1 from analytics.subject_events where tenant = $1 and subject = $2`, [A, p2])).toBe(2), { timeoutMs: 60_000 });
    expect(await count(`select 1 from analytics.subject_events where tenant = $1 and subject = $2`, [A, p1])).toBe(0);
    expect(await count(`select 1 from analytics.erased_subjects where tenant = $1 and subject = $2`, [A, p1])).toBe(1);
  });

  it('caps one tenant’s open subject erasures (429 + Retry-After), answers a repeated subject with its open saga, and another tenant’s erasure completes during the flood', async () => {
    const asTenant = async (tenant: string, userId: string) => {
      const res = await fetch(`http://127.0.0.1:${PORTS.control}/v1/tenants/${tenant}/subjects/${encodeURIComponent(userId)}/erasure`, {
        method: 'POST',
        headers: { authorization: `Bearer ${keys[tenant]}` },
      });
      return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as { id?: string; duplicate?: boolean; error?: string; limit?: number } };
    };
    // The same subject twice at once: one saga, one id.
    const [first, again] = await Promise.all([asTenant(A, 'dup-user'), asTenant(A, 'dup-user')]);
    expect([first.status, again.status]).toEqual([202, 202]);
    expect(first.body.id).toBe(again.body.id);
    expect([first.body.duplicate, again.body.duplicate].filter(Boolean)).toHaveLength(1);

    // Tenant A's admin floods 3× its cap of distinct subjects while tenant B asks for one erasure.
    const t0 = Date.now();
    const flood = Promise.all(Array.from({ length: 3 * MAX_OPEN }, (_, i) => asTenant(A, `flood-${i}`)));
    const victim = await asTenant(B, 'u9');
    expect(victim.status).toBe(202);
    const answers = await flood;
    const accepted = answers.filter((a) => a.status === 202);
    const refused = answers.filter((a) => a.status === 429);
    expect(accepted.length + refused.length).toBe(answers.length);
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) {
      expect(r.body).toMatchObject({ error: 'too_many_open_erasures', limit: MAX_OPEN });
      expect(Number(r.retryAfter)).toBeGreaterThan(0);
    }
    // Never more open than the cap (the per-tenant lock makes the count exact).
    const open = await count(`select 1 from control.erasure_requests where tenant = $1 and scope = 'subject' and completed_at is null`, [A]);
    expect(open).toBeLessThanOrEqual(MAX_OPEN);
    // B's saga is not stuck behind A's flood.
    const progress = await completed(victim.body.id!);
    for (const s of SERVICES) expect({ service: s, acked: progress.services[s] !== 'pending' }).toEqual({ service: s, acked: true });
    console.log(JSON.stringify({ spec: 'erasure-flood', cap: MAX_OPEN, floodRequests: answers.length, accepted: accepted.length, refused429: refused.length, victimCompletedMs: Date.now() - t0 }));
    // A's accepted sagas all complete too: the cap sheds load, it does not lose requests.
    for (const a of accepted) await completed(a.body.id!);
  });

  it('erases a tenant: every service acknowledges, and its records on Kafka no longer decrypt with the deployment’s KEK while another tenant’s do', async () => {
    const now = Date.now();
    expect(await post('/v1/ingest/metrics', keys[B], { points: [{ name: 'b_requests', labels: { route: '/play' }, value: 1, timestamp: now }] })).toBe(202);
    const ofTenant = (t: string) => (r: RawRecord) => r.headers[Headers.tenant] === t;
    const [recordB] = await readRawRecords(kafka, Topics.telemetry.name, { filter: ofTenant(B), until: (rs) => rs.length >= 1, timeoutMs: 30_000 });
    const [recordA] = await readRawRecords(kafka, Topics.telemetry.name, { filter: ofTenant(A), until: (rs) => rs.length >= 1, timeoutMs: 30_000 });

    const erase = await control.request<{ tenant: string; erasureId: string }>('DELETE', `/v1/tenants/${B}`);
    expect(erase.status).toBe(200);
    const progress = await completed(erase.body.erasureId);
    expect({ scope: progress.scope, tenant: progress.tenant }).toEqual({ scope: 'tenant', tenant: B });
    for (const s of SERVICES) expect({ service: s, acked: progress.services[s] !== 'pending' }).toEqual({ service: s, acked: true });
    expect(progress.left.find((l) => l.store === `kafka:${Topics.telemetry.name}`)?.reason).toMatch(/cannot be decrypted/);
    expect(await count('select 1 from analytics.windows_10s where tenant = $1', [B])).toBe(0);

    // What a service starting now would know: the control topic (one partition, in order) read past B's erasure.
    const mine = (r: RawRecord) => r.key !== null && [A, B].includes(r.key.split('/')[1]);
    const controlRecords = await readRawRecords(kafka, Topics.control.name, {
      filter: mine,
      until: (rs) => rs.some((r) => r.key === `tenant_erased/${B}`) && rs.some((r) => r.key === `data_key/${A}/data/1`),
      timeoutMs: 30_000,
    });
    const fresh = new TenantDirectory(new TenantKeyring(kek));
    for (const r of controlRecords) fresh.apply(r.key, r.value === null ? null : JSON.parse(r.value.toString('utf8')));
    let error: unknown;
    try {
      openTelemetryRecord(fresh, recordB);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(CryptoError);
    expect((error as CryptoError).code).toBe('tenant_destroyed');
    const opened = openTelemetryRecord(fresh, recordA);
    expect(opened.points.length + opened.events.length).toBeGreaterThan(0);
  });
});
