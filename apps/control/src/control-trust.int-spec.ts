/**
 * Only control writes the control plane: the five services run as processes on the real broker,
 * and records that control did not sign are put on headroom.control.v1 the way an attacker with
 * produce rights would — an API key record with no signature, one signed by the attacker's own
 * Ed25519 key, a tenant erasure under control's key id with a signature that does not verify, and
 * a genuine but old record replayed over its revocation. Every service must refuse each one to the
 * DLQ with the reason, and none may take effect: the forged keys open nothing, the tenant is not
 * erased, the revoked key stays revoked.
 */
import { createHash, randomBytes } from 'node:crypto';
import { ControlRecordMessage, DlqRecordSchema, Headers, Topics, type ControlRecord, type DlqRecord } from '@headroom/contracts';
import { ControlRecordSigner, generateControlSigningKeys, SIGNATURE_HEADER } from '@headroom/crypto';
import { CODEC_PLAIN, createKafkaClient, produceRawRecords, readRawRecords } from '@headroom/kafka';
import { ControlClient, controlTrust, expectEventually, localSecrets, SERVICES, serviceEnv, ServiceProcess, silentLogger, testInfra, type ServiceName } from '@headroom/testing';

const run = randomBytes(3).toString('hex');
const secrets = localSecrets();
const infra = testInfra();
const kafka = createKafkaClient({ brokers: infra.brokers, clientId: `control-trust-${run}`, logger: silentLogger() });
const PORTS: Record<ServiceName, number> = { control: 5180, collectors: 5181, analytics: 5182, alerting: 5183, exporters: 5184 };
const services = SERVICES.map(
  (name) => new ServiceProcess(name, PORTS[name], serviceEnv(name, secrets, { slackApiUrl: 'http://127.0.0.1:1/api/', groupPrefix: `trust-${run}` }), `trust-${name}-${run}`),
);
const control = new ControlClient(`http://127.0.0.1:${PORTS.control}`, secrets.adminToken);
const tenant = `trust-${run}`;
const topic = Topics.control.name;

/** An API key the attacker knows the secret of, as control would publish it (hash only). */
function attackerKey(): { keyId: string; secret: string; record: ControlRecord } {
  const keyId = randomBytes(8).toString('hex');
  const secret = `hr_${keyId}_${randomBytes(32).toString('base64url')}`;
  const record: ControlRecord = { kind: 'api_key', keyId, tenant, secretHash: createHash('sha256').update(secret).digest('hex'), scopes: ['ingest', 'read', 'admin'], createdAt: new Date().toISOString() };
  return { keyId, secret, record };
}

const plainHeaders = { [Headers.schema]: ControlRecordMessage.id, [Headers.codec]: CODEC_PLAIN, [Headers.keyVersion]: 'none' };
const raw = (key: string, value: ControlRecord, headers: Record<string, string>) => ({ key, value: Buffer.from(JSON.stringify(value)), headers: { ...plainHeaders, ...headers } });

async function ingest(secret: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${PORTS.collectors}/v1/ingest/metrics`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: JSON.stringify({ points: [{ name: 'trust_probe', labels: {}, value: 1, timestamp: Date.now() }] }),
  });
  await res.arrayBuffer();
  return res.status;
}

async function query(secret: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${PORTS.analytics}/prometheus/api/v1/labels`, { headers: { authorization: `Bearer ${secret}` } });
  await res.arrayBuffer();
  return res.status;
}

/**
 * Starts reading the DLQ at its end now (its history on a long-lived machine is large) and returns
 * a function giving the entries about control records with these keys, by record key, once each
 * key has `expectPerKey` of them (or the timeout passed).
 */
async function dlqWatch(keys: string[], expectPerKey: number): Promise<() => Promise<Map<string, DlqRecord[]>>> {
  const out = new Map<string, DlqRecord[]>(keys.map((k) => [k, []]));
  const consumer = kafka.consumer({ groupId: `control-trust-dlq-${run}`, maxWaitTimeInMs: 100 });
  let joined!: () => void;
  const ready = new Promise<void>((r) => (joined = r));
  consumer.on(consumer.events.GROUP_JOIN, () => joined());
  await consumer.connect();
  await consumer.subscribe({ topic: Topics.dlq.name, fromBeginning: false });
  await consumer.run({
    eachMessage: async ({ message }) => {
      if (!message.value) return;
      const entry = DlqRecordSchema.safeParse(JSON.parse(message.value.toString('utf8')));
      if (entry.success && entry.data.source.topic === topic) out.get(entry.data.source.key ?? '')?.push(entry.data);
    },
  });
  await ready;
  // A fresh group starts at the end once it has fetched its offsets: give it that first fetch.
  await new Promise((r) => setTimeout(r, 2_000));
  return async () => {
    await expectEventually(async () => expect(keys.every((k) => out.get(k)!.length >= expectPerKey)).toBe(true), { timeoutMs: 30_000 }).catch(() => undefined);
    await consumer.disconnect();
    return out;
  };
}

describe('the control plane only control writes (five services, real Kafka)', () => {
  jest.setTimeout(240_000);

  beforeAll(async () => {
    for (const s of services) await s.start(90_000);
    await control.createTenant({ id: tenant, displayName: 'Trust test', locale: 'en', shards: 1 });
  });

  afterAll(async () => {
    for (const s of services.reverse()) await s.stop().catch(() => undefined);
  });

  it('refuses forged, foreign-signed and replayed control records in every service, to the DLQ with the reason, and none takes effect', async () => {
    const genuine = await control.createApiKey(tenant, ['ingest', 'read']);
    await expectEventually(async () => expect(await ingest(genuine)).toBe(202), { timeoutMs: 20_000 });
    const genuineKeyId = genuine.split('_')[1];

    // The genuine record of that key as control signed it (before its revocation).
    const [original] = await readRawRecords(kafka, topic, {
      filter: (r) => r.key === `api_key/${genuineKeyId}` && r.value !== null && !('revokedAt' in JSON.parse(r.value.toString('utf8'))),
      until: (rs) => rs.length >= 1,
      timeoutMs: 20_000,
    });
    expect(original.headers[SIGNATURE_HEADER]).toBeDefined();
    const revoked = await control.request('DELETE', `/v1/tenants/${tenant}/api-keys/${genuineKeyId}`);
    expect(revoked.status).toBe(200);
    await expectEventually(async () => expect(await ingest(genuine)).toBe(401), { timeoutMs: 20_000 });

    const unsigned = attackerKey();
    const foreign = attackerKey();
    const attacker = ControlRecordSigner.fromBase64(generateControlSigningKeys().signingKey);
    const controlKeyId = ControlRecordSigner.fromBase64(secrets.controlSigningKey).keyId;
    const erasure: ControlRecord = { kind: 'tenant_erased', tenant, erasedAt: new Date().toISOString() };
    const erasureKey = `tenant_erased/${tenant}`;
    const erasureHeaders = attacker.sign({ topic, key: erasureKey, schema: ControlRecordMessage.id, codec: CODEC_PLAIN }, Buffer.from(JSON.stringify(erasure)));
    erasureHeaders[SIGNATURE_HEADER] = `${controlKeyId}.${erasureHeaders[SIGNATURE_HEADER].split('.')[1]}`;
    const foreignKey = `api_key/${foreign.keyId}`;
    const foreignValue = Buffer.from(JSON.stringify(foreign.record));
    const expected: [string, string][] = [
      [`api_key/${unsigned.keyId}`, 'control_unsigned'],
      [foreignKey, 'control_unknown_signer'],
      [erasureKey, 'control_bad_signature'],
      [`api_key/${genuineKeyId}`, 'control_replayed'],
    ];
    const refusals = await dlqWatch(
      expected.map(([k]) => k),
      SERVICES.length,
    );
    await produceRawRecords(kafka, topic, [
      raw(`api_key/${unsigned.keyId}`, unsigned.record, {}),
      { key: foreignKey, value: foreignValue, headers: { ...plainHeaders, ...attacker.sign({ topic, key: foreignKey, schema: ControlRecordMessage.id, codec: CODEC_PLAIN }, foreignValue) } },
      raw(erasureKey, erasure, erasureHeaders),
      { key: original.key, value: original.value, headers: original.headers },
    ]);

    const dlq = await refusals();
    for (const [key, code] of expected) {
      const entries = dlq.get(key)!;
      // Each service refused it on its own, with the reason; the original bytes are kept for inspection.
      expect({ key, services: [...new Set(entries.map((e) => e.service))].sort() }).toEqual({ key, services: [...SERVICES].sort() });
      for (const e of entries) expect({ key, code: e.code, reason: e.reason.length > 10, value: e.value !== null }).toEqual({ key, code, reason: true, value: true });
    }

    // Nothing took effect: the forged keys open nothing anywhere, the revoked key stays revoked,
    // and the tenant, "erased" by the forgery, still ingests with a key control gives it.
    for (const secret of [unsigned.secret, foreign.secret, genuine]) {
      expect(await ingest(secret)).toBe(401);
      expect(await query(secret)).toBe(401);
    }
    const fresh = await control.createApiKey(tenant, ['ingest', 'read']);
    await expectEventually(async () => expect(await ingest(fresh)).toBe(202), { timeoutMs: 20_000 });
    expect(await query(fresh)).toBe(200);

    // Each service counts what it refused, by reason — on a /metrics only the deployment's scraper reads.
    for (const s of services) {
      expect({ service: s.app, status: (await fetch(`${s.url}/metrics`)).status }).toEqual({ service: s.app, status: 401 });
      expect({ service: s.app, status: (await fetch(`${s.url}/metrics`, { headers: { authorization: `Bearer ${fresh}` } })).status }).toEqual({ service: s.app, status: 401 });
      const text = await (await fetch(`${s.url}/metrics`, { headers: controlTrust().metricsHeaders })).text();
      for (const [, code] of expected) expect({ service: s.app, code, counted: new RegExp(`headroom_control_records_refused_total\\{[^}]*code="${code}"[^}]*\\} [1-9]`).test(text) }).toEqual({ service: s.app, code, counted: true });
    }
  });
});
