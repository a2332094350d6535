/**
 * The audit store on the real PostgreSQL (a database of its own, dropped at the end) fed from the
 * real headroom.audit.v1: events of several services chained per tenant, the append-only triggers,
 * and an attacker with the rights to switch them off — whose edit and deletion verify must locate.
 * Then an unauthenticated flood through AuditTrail.denied, counted on the topic.
 */
import { Pool } from 'pg';
import { Registry } from 'prom-client';
import { AuditEventSchema, Topics, type AuditEvent } from '@headroom/contracts';
import { createKafkaClient, readRawRecords, RecordPublisher, type RawRecord } from '@headroom/kafka';
import { AuditTrail, DEFAULT_DENIAL_BUDGET } from '@headroom/tenancy';
import { silentLogger, testInfra, uniqueId } from '@headroom/testing';
import { AuditAnchor } from './audit-anchor';
import { AuditRepository } from './audit.repository';

const kafka = createKafkaClient({ brokers: testInfra().brokers, clientId: 'audit-chain-int-spec', logger: silentLogger() });
const publisher = new RecordPublisher(kafka, undefined);
const dbName = `audit_chain_${process.pid}_${Date.now().toString(36)}`;
const admin = new Pool({ connectionString: testInfra().databaseUrl, max: 1 });
let pool: Pool;
let repo: AuditRepository;

const run = uniqueId('a').replace(/[^a-z0-9-]/g, '');
const tenants = { nova: `nova-${run}`, echo: `echo-${run}`, lyra: `lyra-${run}` };

const parse = (r: RawRecord): AuditEvent => AuditEventSchema.parse(JSON.parse(r.value!.toString('utf8')));

/** Publishes through one AuditTrail per service, as each service would. */
function trailOf(service: AuditEvent['service']) {
  return new AuditTrail(publisher, service, silentLogger() as never, new Registry());
}

/** Reads back from the topic what the test published (keys `keys`, those `accept` takes, until `done`), in topic order. */
async function readBack(keys: string[], done: (events: AuditEvent[]) => boolean, accept: (e: AuditEvent) => boolean = () => true): Promise<{ record: RawRecord; event: AuditEvent }[]> {
  const wanted = new Set(keys);
  const records = await readRawRecords(kafka, Topics.audit.name, {
    filter: (r) => r.key !== null && wanted.has(r.key) && r.value !== null && accept(parse(r)),
    until: (rs) => done(rs.map(parse)),
    timeoutMs: 30_000,
  });
  return records.map((record) => ({ record, event: parse(record) }));
}

/** What an attacker who owns the table (or is superuser) can do: switch the triggers off around a statement. */
async function asAttacker(sql: string, params: unknown[]): Promise<void> {
  const db = await pool.connect();
  try {
    await db.query('begin');
    await db.query('alter table control.audit_log disable trigger user');
    await db.query(sql, params);
    await db.query('alter table control.audit_log enable trigger user');
    await db.query('commit');
  } catch (err) {
    await db.query('rollback');
    throw err;
  } finally {
    db.release();
  }
}

beforeAll(async () => {
  await admin.query(`create database ${dbName}`);
  const url = new URL(testInfra().databaseUrl);
  url.pathname = `/${dbName}`;
  pool = new Pool({ connectionString: url.toString(), max: 4 });
  // pool.end() resolves before its sockets have closed; the drop (with force) in afterAll may then end a
  // backend that is still there, which the pool reports as an error with nobody left to hear it.
  pool.on('error', () => undefined);
  repo = new AuditRepository(pool);
  await publisher.connect();
}, 60_000);

afterAll(async () => {
  await publisher.disconnect();
  await pool?.end();
  await admin.query(`drop database if exists ${dbName} with (force)`);
  await admin.end();
});

describe('the audit store', () => {
  it('chains the rows stored before the chain existed, oldest first, when it migrates', async () => {
    // The table as the previous version created it, with rows in it (inserted out of time order).
    await pool.query(`create schema control; create table control.audit_log (
      event_key text primary key, partition int not null, "offset" bigint not null, at timestamptz not null, service text not null,
      actor text not null, tenant text, action text not null, target text, outcome text not null, details jsonb not null)`);
    for (const [i, at] of ['2026-01-01T00:00:03Z', '2026-01-01T00:00:01Z', '2026-01-01T00:00:02Z'].entries()) {
      await pool.query(`insert into control.audit_log values ($1, 0, $2, $3, 'control', 'operator', $4, 'api_key.create', $5, 'success', '{}')`, [`legacy-${i}`, i, at, tenants.lyra, `k${i}`]);
    }
    await repo.onModuleInit();
    await repo.onModuleInit(); // a second boot changes nothing
    expect(await repo.verify(tenants.lyra)).toMatchObject({ chain: `tenant:${tenants.lyra}`, rows: 3, ok: true, headSeq: 3 });
    const listed = await repo.list({ tenant: tenants.lyra, limit: 10 });
    expect(listed.map((e) => [e.target, e.seq])).toEqual([
      ['k0', 3],
      ['k2', 2],
      ['k1', 1],
    ]);
  }, 30_000);

  it('chains the events of several services per tenant, as read from headroom.audit.v1, each stored once', async () => {
    const trails = [trailOf('collectors'), trailOf('alerting'), trailOf('exporters')];
    for (let i = 0; i < 4; i++) {
      for (const [j, trail] of trails.entries()) {
        trail.record({ actor: `key:k${j}a2b3c4d5`, tenant: tenants.nova, action: 'http.post', target: 'POST /v1/silences', outcome: 'success', details: { status: 201, i } });
        trail.record({ actor: `person:ann-${j}`, tenant: tenants.echo, action: 'http.delete', target: 'DELETE /v1/silences/:id', outcome: i === 0 ? 'denied' : 'success', details: { status: i === 0 ? 403 : 200 } });
      }
    }
    const read = await readBack([tenants.nova, tenants.echo], (es) => es.length >= 24);
    expect(read).toHaveLength(24);
    for (const { record, event } of read) expect(await repo.insert(record.partition, record.offset, event)).toBe(true);
    // A replay (a consumer restarted before committing) stores nothing twice.
    for (const { record, event } of read) expect(await repo.insert(record.partition, record.offset, event)).toBe(false);

    for (const tenant of [tenants.nova, tenants.echo]) {
      const report = await repo.verify(tenant);
      expect(report).toMatchObject({ chain: `tenant:${tenant}`, rows: 12, ok: true, headSeq: 12 });
      expect(report.headHash).toMatch(/^[0-9a-f]{64}$/);
      const events = await repo.list({ tenant, limit: 100 });
      expect(new Set(events.map((e) => e.service))).toEqual(new Set(['collectors', 'alerting', 'exporters']));
      expect(events.map((e) => e.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    }
  }, 60_000);

  it('refuses UPDATE, DELETE and TRUNCATE of the log', async () => {
    await expect(pool.query(`update control.audit_log set outcome = 'success' where tenant = $1`, [tenants.echo])).rejects.toThrow(/append-only: UPDATE refused/);
    await expect(pool.query('delete from control.audit_log where tenant = $1', [tenants.echo])).rejects.toThrow(/append-only: DELETE refused/);
    await expect(pool.query('truncate control.audit_log')).rejects.toThrow(/append-only: TRUNCATE refused/);
    expect(await repo.verify(tenants.echo)).toMatchObject({ rows: 12, ok: true });
  });

  it('locates a field edited with the triggers off: that row, hash_mismatch; the other chains still verify', async () => {
    const target = (await pool.query<{ event_key: string; partition: number; offset: string }>(`select event_key, partition, "offset" from control.audit_log where chain = $1 and seq = 5`, [`tenant:${tenants.nova}`])).rows[0];
    await asAttacker(`update control.audit_log set outcome = 'success', actor = 'platform' where event_key = $1`, [target.event_key]);
    expect(await repo.verify(tenants.nova)).toEqual(
      expect.objectContaining({ ok: false, firstBroken: { seq: 5, id: `${target.partition}:${target.offset}`, reason: 'hash_mismatch' } }),
    );
    expect(await repo.verify(tenants.echo)).toMatchObject({ ok: true, rows: 12 });
    expect(await repo.verify(tenants.lyra)).toMatchObject({ ok: true, rows: 3 });
  });

  it('locates a row deleted from the middle with the triggers off: its seq, sequence_gap', async () => {
    const chain = `tenant:${tenants.echo}`;
    const next = (await pool.query<{ partition: number; offset: string }>(`select partition, "offset" from control.audit_log where chain = $1 and seq = 8`, [chain])).rows[0];
    await asAttacker('delete from control.audit_log where chain = $1 and seq = 7', [chain]);
    expect(await repo.verify(tenants.echo)).toMatchObject({ ok: false, rows: 7, firstBroken: { seq: 7, id: `${next.partition}:${next.offset}`, reason: 'sequence_gap' } });
  });

  it('shows a tail cut with the head rewound only against the head logged before (the external anchor)', async () => {
    const logged: { chain: string; seq: number; hash: string }[] = [];
    const anchor = new AuditAnchor(repo, { info: (o: { auditAnchor: (typeof logged)[number] }) => logged.push(o.auditAnchor), warn: () => undefined } as never, 60_000);
    await anchor.anchor();
    const before = logged.find((h) => h.chain === `tenant:${tenants.lyra}`);
    expect(before).toMatchObject({ seq: 3 });
    const chain = `tenant:${tenants.lyra}`;
    // The tail alone: the stored head still says 3.
    const kept = (await pool.query<{ hash: string }>('select hash from control.audit_log where chain = $1 and seq = 2', [chain])).rows[0];
    await asAttacker('delete from control.audit_log where chain = $1 and seq = 3', [chain]);
    expect(await repo.verify(tenants.lyra)).toMatchObject({ ok: false, firstBroken: { seq: 3, reason: 'head_mismatch' } });
    // And the head rewound too: the chain is whole again on its own, but no longer ends where the anchor said.
    await pool.query('update control.audit_chain_heads set seq = 2, hash = $2 where chain = $1', [chain, kept.hash]);
    const report = await repo.verify(tenants.lyra);
    expect(report).toMatchObject({ ok: true, rows: 2, headSeq: 2 });
    expect(report.headHash).not.toBe(before!.hash);
  });
});

describe('a flood of refused requests', () => {
  it('costs the log a bounded number of events, the rest counted in one summary', async () => {
    const net = `198.18.${Math.floor(Math.random() * 256)}`;
    const path = `/v1/tenants/flood-${run}`;
    const registry = new Registry();
    const trail = new AuditTrail(publisher, 'collectors', silentLogger() as never, registry);
    const started = Date.now();
    for (let i = 0; i < 5_000; i++) trail.denied({ method: 'POST', url: `${path}?api_key=hr_secret_${i}`, ip: `${net}.${i % 20}` }, 'no_credential');
    const elapsedS = (Date.now() - started) / 1000;
    trail.flush();
    const ours = (e: AuditEvent) => (e.action === 'auth.denied' && e.target === `POST ${path}`) || (e.action === 'auth.denied_suppressed' && String(e.details['topSource']).startsWith(`${net}.`));
    const budget = DEFAULT_DENIAL_BUDGET;
    const bound = budget.globalBurst + Math.ceil(budget.globalRate * elapsedS) + 1;
    // Until the summary and as many single events as it leaves unaccounted for (or the timeout).
    const complete = (es: AuditEvent[]) => {
      const summary = es.find((e) => e.action === 'auth.denied_suppressed');
      return summary !== undefined && es.length - 1 >= 5_000 - Number(summary.details['suppressed']);
    };
    const read = await readBack(['platform'], complete, ours);
    const singles = read.filter(({ event }) => event.action === 'auth.denied');
    const summaries = read.filter(({ event }) => event.action === 'auth.denied_suppressed');
    expect(read.length).toBeLessThanOrEqual(bound);
    expect(singles.length).toBeGreaterThanOrEqual(budget.globalBurst);
    expect(summaries).toHaveLength(1);
    expect(summaries[0].event.details).toMatchObject({ suppressed: 5_000 - singles.length, sources: 20 });
    expect(await registry.getSingleMetricAsString('headroom_audit_denied_suppressed_total')).toContain(` ${5_000 - singles.length}`);
    expect(JSON.stringify(read.map((r) => r.event))).not.toContain('hr_secret_');
    // Stored and chained like any other platform event.
    for (const { record, event } of read) await repo.insert(record.partition, record.offset, event);
    expect(await repo.verify(undefined)).toMatchObject({ chain: 'platform', ok: true, rows: read.length });
  }, 90_000);
});
