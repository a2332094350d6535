/**
 * The data-key lifecycle on control as a process, real PostgreSQL and Kafka: a data key older than
 * CONTROL_DATA_KEY_MAX_AGE is rotated by the key job (a new version on the control topic), the
 * tenant's receiver secrets are re-sealed under it, and the old version is retired once the
 * retention has passed — a keyring built from the topic, as a service builds it, then refuses a
 * record sealed with it (KeyRetiredError). Then a KEK rotation: control restarted with a new KEK and
 * the old one as previous re-wraps every key at boot, and a service holding only the new KEK reads
 * every tenant's keys from the topic.
 *
 * Control runs against a database of its own (created here, dropped after): the key job and the
 * re-wrap act on every tenant control stores, and the machine's shared database belongs to the other
 * specs and the local stack, whose services only hold the local KEK. The people signing keys are
 * copied from the shared database so the `jwks` record this control publishes is the one the others
 * already rely on.
 */
import { randomBytes } from 'node:crypto';
import { Pool } from 'pg';
import { ControlRecordSchema, Topics, type ControlRecord } from '@headroom/contracts';
import { KeyEncryptionKey, KeyRetiredError, TenantKeyring, type RecordAad } from '@headroom/crypto';
import { createKafkaClient, readRawRecords, type RawRecord } from '@headroom/kafka';
import { openReceiverSecrets, TenantDirectory } from '@headroom/tenancy';
import { ControlClient, expectEventually, localSecrets, serviceEnv, ServiceProcess, silentLogger, testInfra } from '@headroom/testing';

const run = randomBytes(3).toString('hex');
const secrets = localSecrets();
const infra = testInfra();
const kafka = createKafkaClient({ brokers: infra.brokers, clientId: `keys-int-${run}`, logger: silentLogger() });
const shared = new Pool({ connectionString: infra.databaseUrl, max: 2 });
const dbName = `headroom_keys_${run}`;
const ownUrl = (() => {
  const u = new URL(infra.databaseUrl);
  u.pathname = `/${dbName}`;
  return u.toString();
})();
let own: Pool;

const PORT = 5900;
const baseEnv = { ...serviceEnv('control', secrets, { slackApiUrl: 'http://127.0.0.1:1/api/' }), DATABASE_URL: ownUrl, CONTROL_KEY_JOB_INTERVAL: '1s' };
let control: ServiceProcess | undefined;
const client = new ControlClient(`http://127.0.0.1:${PORT}`, secrets.adminToken);

const tenant = `keys-a-${run}`;
const other = `keys-b-${run}`;
const botToken = `xoxb-keys-${run}`;
const telemetryAad: RecordAad = { tenant, topic: Topics.telemetry.name, schema: 'telemetry-batch@1' };
const localKek = KeyEncryptionKey.fromBase64(secrets.kek, 'kek-1');
const newKekBase64 = randomBytes(32).toString('base64');
const newKekId = `kek-keys-${run}`;

async function startControl(env: Record<string, string>, name: string): Promise<void> {
  control = new ServiceProcess('control', PORT, { ...baseEnv, ...env }, `keys-control-${run}-${name}`);
  await control.start(120_000);
}

/** The latest record per key for our tenants on the control topic, read to its end (what a service rebuilds its view from). */
async function latestControlRecords(): Promise<Map<string, ControlRecord | null>> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(Topics.control.name).finally(() => admin.disconnect());
  const remaining = new Map(ends.filter((p) => BigInt(p.high) > BigInt(p.low)).map((p) => [p.partition, BigInt(p.high)]));
  const seen = new Map<number, bigint>();
  const mine = (r: RawRecord) => (r.key ?? '').includes(`-${run}`);
  // Every record is kept (`until` is asked only for kept ones, and the topic's last records may be others'), ours picked after.
  const records = await readRawRecords(kafka, Topics.control.name, {
    until: (rs) => {
      const r = rs[rs.length - 1];
      seen.set(r.partition, BigInt(r.offset) + 1n);
      return [...remaining].every(([p, high]) => (seen.get(p) ?? 0n) >= high);
    },
    timeoutMs: 60_000,
  });
  if (![...remaining].every(([p, high]) => (seen.get(p) ?? 0n) >= high)) throw new Error('the control topic could not be read to its end');
  const latest = new Map<string, ControlRecord | null>();
  for (const r of records.filter(mine)) latest.set(r.key!, r.value === null ? null : ControlRecordSchema.parse(JSON.parse(r.value.toString('utf8'))));
  return latest;
}

/** A service's view, built from the control topic with the given keyring. */
async function serviceView(keyring: TenantKeyring): Promise<TenantDirectory> {
  const directory = new TenantDirectory(keyring);
  for (const [key, value] of await latestControlRecords()) directory.apply(key, value);
  return directory;
}

describe('data-key lifecycle and KEK rotation (control as a process)', () => {
  jest.setTimeout(300_000);
  let sealedWithV1: Buffer;

  beforeAll(async () => {
    await shared.query(`create database ${dbName}`);
    own = new Pool({ connectionString: ownUrl, max: 2 });
    // Its sockets may outlive own.end() by a moment; the drop (with force) in afterAll then ends them.
    own.on('error', () => undefined);
    await own.query(`create schema control; create table control.signing_keys (kid text primary key, public_jwk jsonb not null, wrapped_key jsonb not null, sealed text not null, created_at timestamptz not null default now(), superseded_at timestamptz)`);
    const keys = await shared.query('select kid, public_jwk, wrapped_key, sealed, created_at, superseded_at from control.signing_keys').catch(() => ({ rows: [] as Record<string, unknown>[] }));
    for (const k of keys.rows) {
      await own.query('insert into control.signing_keys (kid, public_jwk, wrapped_key, sealed, created_at, superseded_at) values ($1,$2,$3,$4,$5,$6)', [k.kid, k.public_jwk, k.wrapped_key, k.sealed, k.created_at, k.superseded_at]);
    }
  });

  afterAll(async () => {
    await control?.stop().catch(() => undefined);
    await own?.end();
    await shared.query(`drop database if exists ${dbName} with (force)`).catch(() => undefined);
    await shared.end();
  });

  it('rotates a data key past its maximum age, re-seals the stored secrets under the new version, then retires the old one', async () => {
    // Long enough to create and read the tenants before the first scheduled rotation.
    await startControl({ CONTROL_DATA_KEY_MAX_AGE: '8s', CONTROL_DATA_KEY_RETIRE_AFTER: '3s' }, 'rotation');
    const alerting = { slackChannel: '#keys', rules: [], routing: { route: { receiver: 'ops' }, receivers: [{ name: 'ops', slack_configs: [{ channel: '#keys', bot_token: botToken }] }] } };
    expect((await client.request('POST', '/v1/tenants', { id: tenant, displayName: 'Keys A', locale: 'en', shards: 1, alerting })).status).toBe(201);
    expect((await client.request('POST', '/v1/tenants', { id: other, displayName: 'Keys B', locale: 'en', shards: 1 })).status).toBe(201);
    const stored = await own.query(`select config->'routing' as routing from control.alert_configs where tenant = $1`, [tenant]);
    expect(JSON.stringify(stored.rows[0].routing)).toContain('sealed:v1:1:');

    // A telemetry record sealed by a service with v1, before any rotation.
    const before = await serviceView(new TenantKeyring(localKek));
    const sealed = before.keyring.encrypt(telemetryAad, Buffer.from('cpu 0.5'));
    expect(sealed.keyVersion).toBe(1);
    sealedWithV1 = sealed.ciphertext;

    // The key job rotates once v1 is 8 s old: v2 on the topic, and the secrets re-sealed with it.
    await expectEventually(async () => expect((await latestControlRecords()).get(`data_key/${tenant}/data/2`)).toMatchObject({ kind: 'data_key', state: 'active' }), { timeoutMs: 60_000, intervalMs: 1_000 });
    await expectEventually(async () => {
      const routing = JSON.stringify((await own.query(`select config->'routing' as routing from control.alert_configs where tenant = $1`, [tenant])).rows[0].routing);
      expect(routing).not.toContain('sealed:v1:1:');
      expect(routing).toMatch(/sealed:v1:[2-9]:/);
    }, { timeoutMs: 30_000 });

    // v1 is retired 3 s after v2 took over (nothing stored uses it any more): on the topic, then refused by a service.
    await expectEventually(async () => expect((await latestControlRecords()).get(`data_key/${tenant}/data/1`)).toMatchObject({ kind: 'data_key', state: 'retired' }), { timeoutMs: 60_000, intervalMs: 1_000 });
    const after = await serviceView(new TenantKeyring(localKek));
    expect(() => after.keyring.decrypt(telemetryAad, 1, sealedWithV1)).toThrow(KeyRetiredError);
    // The re-sealed secret still opens for alerting, and new records use a live version.
    const config = after.alertConfig(tenant);
    const opened = openReceiverSecrets(config!.routing!, tenant, after.keyring);
    expect(opened.receivers[0].slack_configs?.[0]).toMatchObject({ bot_token: botToken });
    const fresh = after.keyring.encrypt(telemetryAad, Buffer.from('cpu 0.6'));
    expect(fresh.keyVersion).toBeGreaterThan(1);
    expect(after.keyring.decrypt(telemetryAad, fresh.keyVersion, fresh.ciphertext).toString()).toBe('cpu 0.6');

    // What the API says about it.
    const listed = await client.request<{ current: number; versions: { version: number; state: string; keptBecause: { code: string }[] }[] }>('GET', `/v1/tenants/${tenant}/data-keys`);
    expect(listed.status).toBe(200);
    expect(listed.body.versions[0]).toMatchObject({ version: 1, state: 'retired' });
    expect(listed.body.versions.find((v) => v.version === listed.body.current)).toMatchObject({ state: 'current', keptBecause: [{ code: 'current' }] });
    const retired = await client.request<{ retired: number[] }>('POST', `/v1/tenants/${tenant}/data-keys/retire-expired`);
    expect(retired.status).toBe(200);
    expect(Array.isArray(retired.body.retired)).toBe(true);
  });

  it('re-wraps every key under a new KEK at boot; a service with only the new KEK reads every tenant’s keys', async () => {
    await control!.stop();
    await startControl({ HEADROOM_KEK: newKekBase64, HEADROOM_KEK_ID: newKekId, HEADROOM_KEK_PREVIOUS: secrets.kek, HEADROOM_KEK_PREVIOUS_ID: 'kek-1', CONTROL_DATA_KEY_MAX_AGE: '30d' }, 'kek');

    const status = await client.request<{ current: string; remaining: number; tenantKeys: { byKek: Record<string, number> }; signingKeys: { byKek: Record<string, number> } }>('GET', '/v1/platform/kek');
    expect(status.status).toBe(200);
    expect(status.body.current).toBe(newKekId);
    expect(status.body.remaining).toBe(0);
    expect(Object.keys(status.body.tenantKeys.byKek)).toEqual([newKekId]);
    expect((await own.query(`select count(*)::int as n from control.data_keys where kek_id <> $1`, [newKekId])).rows[0].n).toBe(0);

    const newKek = KeyEncryptionKey.fromBase64(newKekBase64, newKekId);
    await expectEventually(async () => {
      const latest = await latestControlRecords();
      const keys = [...latest.values()].filter((r): r is Extract<ControlRecord, { kind: 'data_key' }> => r?.kind === 'data_key');
      expect(keys.length).toBeGreaterThanOrEqual(4); // data and pseudonym of both tenants, v2+ of the first
      expect(keys.filter((k) => k.kekId !== newKekId)).toEqual([]);
    }, { timeoutMs: 30_000, intervalMs: 1_000 });

    // A service that was given only the new KEK (after the rollout), and one with both (during it).
    for (const keyring of [new TenantKeyring(newKek), new TenantKeyring(newKek, [localKek])]) {
      const view = await serviceView(keyring);
      for (const t of [tenant, other]) {
        expect(view.keyring.hasTenant(t)).toBe(true);
        expect(view.keyring.pseudonymise(t, 'user-1')).toMatch(/^u_/);
      }
      // Same key bytes, new wrapping: the secrets sealed before the KEK rotation still open.
      const config = view.alertConfig(tenant);
      expect(openReceiverSecrets(config!.routing!, tenant, view.keyring).receivers[0].slack_configs?.[0]).toMatchObject({ bot_token: botToken });
      const otherAad = { ...telemetryAad, tenant: other };
      const roundTrip = view.keyring.encrypt(otherAad, Buffer.from('x'));
      expect(view.keyring.decrypt(otherAad, roundTrip.keyVersion, roundTrip.ciphertext).toString()).toBe('x');
      // Retirement survives the re-wrap.
      expect(() => view.keyring.decrypt(telemetryAad, 1, sealedWithV1)).toThrow(KeyRetiredError);
    }

    // People's token-signing key was re-wrapped too: control still mints tokens with the new KEK only in use.
    const token = await client.request<{ token: string }>('POST', '/v1/tokens', { sub: 'ops@example.com', role: 'admin', tenant, ttlSeconds: 60 });
    expect(token.status).toBe(201);
    expect(token.body.token.split('.')).toHaveLength(3);
  });
});
