/**
 * The transactional outbox, on control as a process with real PostgreSQL and Kafka: a change
 * PostgreSQL rolls back (here at commit, by a deferred constraint an operator's rule could be) puts
 * nothing on Kafka — no tenant, no data key, no audit event — and a change PostgreSQL committed is
 * published even when control died before relaying it (SIGKILL; the rows are relayed by the next
 * control), signed by control.
 */
import { randomBytes } from 'node:crypto';
import { Pool } from 'pg';
import { AuditEventMessage, ControlRecordMessage, Topics } from '@headroom/contracts';
import { ControlRecordSigner, ControlRecordVerifier, SIGNED_AT_HEADER, SigningClock } from '@headroom/crypto';
import { createKafkaClient, readRawRecords, RecordPublisher, type RawRecord } from '@headroom/kafka';
import { createLogger } from '@headroom/runtime';
import { ControlClient, expectEventually, localSecrets, serviceEnv, ServiceProcess, silentLogger, testInfra } from '@headroom/testing';
import { ControlOutbox, controlEntry } from './control-outbox';

const run = randomBytes(3).toString('hex');
const secrets = localSecrets();
const infra = testInfra();
const kafka = createKafkaClient({ brokers: infra.brokers, clientId: `outbox-int-${run}`, logger: silentLogger() });
const pool = new Pool({ connectionString: infra.databaseUrl, max: 2 });
const PORT = 5175;
const env = serviceEnv('control', secrets, { slackApiUrl: 'http://127.0.0.1:1/api/' });
let control = new ServiceProcess('control', PORT, env, `outbox-control-${run}`);
const client = new ControlClient(`http://127.0.0.1:${PORT}`, secrets.adminToken);
const doomed = `doomed-${run}`;
const survivor = `kept-${run}`;
const orphan = `orphan-${run}`;

/** Every record on `topic` now (up to its end when this is called), filtered. */
async function recordsNow(topic: string, filter: (r: RawRecord) => boolean): Promise<RawRecord[]> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic).finally(() => admin.disconnect());
  const remaining = new Map(ends.filter((p) => BigInt(p.high) > BigInt(p.low)).map((p) => [p.partition, BigInt(p.high)]));
  const seen = new Map<number, bigint>();
  const kept = await readRawRecords(kafka, topic, {
    filter: (r) => {
      seen.set(r.partition, BigInt(r.offset) + 1n);
      return filter(r);
    },
    until: () => [...remaining].every(([p, high]) => (seen.get(p) ?? 0n) >= high),
    timeoutMs: 60_000,
  }).catch(() => undefined);
  if (!kept) throw new Error(`${topic} could not be read to its end`);
  return kept;
}

const mentions = (tenant: string) => (r: RawRecord) => (r.key ?? '').includes(tenant) || (r.value !== null && r.value.toString('utf8').includes(tenant));

describe('control outbox (PostgreSQL → Kafka, at least once, nothing rolled back)', () => {
  jest.setTimeout(180_000);

  beforeAll(async () => {
    await control.start(90_000);
    // An operator's rule checked at commit: any tenant id starting with "doomed-" fails the transaction.
    await pool.query(`create or replace function control.outbox_spec_refuse() returns trigger language plpgsql as $$
      begin if new.id like 'doomed-%' then raise exception 'refused at commit by the spec''s rule'; end if; return new; end $$`);
    await pool.query('drop trigger if exists outbox_spec_refuse on control.tenants');
    await pool.query('create constraint trigger outbox_spec_refuse after insert on control.tenants deferrable initially deferred for each row execute function control.outbox_spec_refuse()');
  });

  afterAll(async () => {
    await pool.query('drop trigger if exists outbox_spec_refuse on control.tenants').catch(() => undefined);
    await pool.query('drop function if exists control.outbox_spec_refuse()').catch(() => undefined);
    await control.stop().catch(() => undefined);
    await pool.end();
  });

  it('publishes nothing of a change rolled back at commit, and everything of one committed', async () => {
    const refused = await client.request('POST', '/v1/tenants', { id: doomed, displayName: 'Doomed', locale: 'en', shards: 1 });
    expect(refused.status).toBeGreaterThanOrEqual(500);
    expect((await pool.query('select 1 from control.tenants where id = $1', [doomed])).rowCount).toBe(0);
    expect((await pool.query(`select 1 from control.outbox where value::text like $1`, [`%${doomed}%`])).rowCount).toBe(0);

    const kept = await client.request('POST', '/v1/tenants', { id: survivor, displayName: 'Kept', locale: 'en', shards: 1 });
    expect(kept.status).toBe(201);
    // Read after the committed change was acknowledged: had the rolled-back one been sent, it would be before.
    const control = await recordsNow(Topics.control.name, (r) => mentions(doomed)(r) || mentions(survivor)(r));
    expect(control.filter(mentions(doomed))).toEqual([]);
    expect(control.filter(mentions(survivor)).map((r) => r.key).sort()).toEqual([`data_key/${survivor}/data/1`, `data_key/${survivor}/pseudonym/1`, `tenant/${survivor}`]);
    const audit = await recordsNow(Topics.audit.name, (r) => mentions(doomed)(r) || mentions(survivor)(r));
    expect(audit.filter(mentions(doomed))).toEqual([]);
    expect(audit.filter(mentions(survivor)).map((r) => JSON.parse(r.value!.toString('utf8')).action)).toContain('tenant.create');
    expect(audit.every((r) => r.headers['hr-schema'] === AuditEventMessage.id)).toBe(true);
  });

  it('relays what a killed control committed and never sent, signed by control, when a control starts again', async () => {
    await control.kill('SIGKILL');
    const createdAt = new Date().toISOString();
    const record = { kind: 'tenant', tenant: orphan, displayName: 'Orphan', status: 'active', shards: 1, locale: 'en', createdAt };
    // What a transaction leaves when control dies between its commit and its relay: the row and its outbox entry.
    const db = await pool.connect();
    try {
      await db.query('begin');
      await db.query(`insert into control.tenants (id, display_name, locale, shards, status, created_at) values ($1, 'Orphan', 'en', 1, 'active', $2)`, [orphan, createdAt]);
      await db.query(`insert into control.outbox (kind, key, value) values ('control', $1, $2)`, [`tenant/${orphan}`, JSON.stringify(record)]);
      await db.query('commit');
    } finally {
      db.release();
    }
    control = new ServiceProcess('control', PORT, env, `outbox-control-${run}-2`);
    await control.start(90_000);
    await expectEventually(async () => expect((await pool.query(`select 1 from control.outbox where key = $1`, [`tenant/${orphan}`])).rowCount).toBe(0), { timeoutMs: 30_000 });
    const published = await recordsNow(Topics.control.name, (r) => r.key === `tenant/${orphan}`);
    expect(published.length).toBeGreaterThanOrEqual(1);
    const verifier = ControlRecordVerifier.fromBase64List(secrets.controlPublicKey);
    for (const r of published) {
      expect(JSON.parse(r.value!.toString('utf8'))).toMatchObject({ kind: 'tenant', tenant: orphan });
      expect(verifier.check({ topic: r.topic, key: r.key, schema: r.headers['hr-schema'], codec: r.headers['hr-codec'] }, r.value, r.headers).ok).toBe(true);
      expect(r.headers['hr-schema']).toBe(ControlRecordMessage.id);
    }
    await pool.query('delete from control.tenants where id = $1', [orphan]);
  });

  it('signs in outbox order across replicas whose clocks disagree, so no service takes a later change for a replay', async () => {
    // Two control replicas in this process, B's clock a minute behind A's; the control process is
    // stopped so that each replica relays its own rows.
    await control.stop();
    const replica = (clock: SigningClock) => {
      const publisher = new RecordPublisher(kafka, undefined, undefined, { signer: { topics: new Set([Topics.control.name]), signer: ControlRecordSigner.fromBase64(secrets.controlSigningKey, clock) } });
      return { clock, publisher, outbox: new ControlOutbox(pool, publisher, createLogger('control', 'silent'), clock) };
    };
    const a = replica(new SigningClock());
    const b = replica(new SigningClock(() => Date.now() - 60_000));
    const tenant = `clock-${run}`;
    try {
      // No relay timers (onModuleInit is not called): each replica relays exactly when told. The schema
      // (control.relay_clock included) is the control process's, migrated in beforeAll.
      for (const r of [a, b]) await r.publisher.connect();
      // A change relayed by A, the next by B, the last by A again: one key, three versions.
      for (const [i, r] of [a, b, a].entries()) {
        const db = await pool.connect();
        try {
          await db.query('begin');
          await r.outbox.enqueue(db, [controlEntry({ kind: 'tenant', tenant, displayName: `v${i}`, status: 'suspended', shards: 1, locale: 'en', createdAt: new Date().toISOString() })]);
          await db.query('commit');
        } finally {
          db.release();
        }
        await r.outbox.relay();
      }
      expect(b.clock.lastSigned()).toBeGreaterThan(0); // B did sign (with its own clock, floored)
      const published = await recordsNow(Topics.control.name, (r) => r.key === `tenant/${tenant}`);
      expect(published.map((r) => JSON.parse(r.value!.toString('utf8')).displayName)).toEqual(['v0', 'v1', 'v2']);
      const signedAt = published.map((r) => Number(r.headers[SIGNED_AT_HEADER]));
      // What every service's replay check requires of one key's records: strictly later each time.
      for (let i = 1; i < signedAt.length; i++) expect({ i, later: signedAt[i] > signedAt[i - 1] }).toEqual({ i, later: true });
    } finally {
      for (const r of [a, b]) await r.publisher.disconnect().catch(() => undefined);
      await pool.query('delete from control.tenants where id = $1', [tenant]);
    }
  });
});
