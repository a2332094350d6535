/**
 * control as a process (exactly as `npm start` runs it) against the real Kafka and PostgreSQL: the
 * admin API from outside, what it leaves on the control and audit topics (checked the way every
 * other service reads them: a TenantDirectory fed the control topic, keys unwrapped with the KEK),
 * and a clean shutdown on SIGTERM.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { AuditEventSchema, ControlRecordMessage, Headers, Topics, type AuditEvent } from '@headroom/contracts';
import { KeyEncryptionKey, TenantDestroyedError, TenantKeyring } from '@headroom/crypto';
import { createKafkaClient, readRawRecords, type RawRecord } from '@headroom/kafka';
import { API_KEY_MAC_LABEL, hashApiKey, openReceiverSecrets, TenantDirectory } from '@headroom/tenancy';
import { Pool } from 'pg';
import { expectEventually, localSecrets, serviceEnv, ServiceProcess, silentLogger, testInfra, uniqueId } from '@headroom/testing';

interface Issue {
  path: string;
  message: string;
}
interface ApiKeyCreated {
  keyId: string;
  tenant: string;
  scopes: string[];
  secret: string;
  createdAt: string;
}

const secrets = localSecrets();
const kek = KeyEncryptionKey.fromBase64(secrets.kek, 'kek-1');
// debug: the secret-leak check below then covers everything control can log.
const control = new ServiceProcess(
  'control',
  5150,
  serviceEnv('control', secrets, { slackApiUrl: 'http://127.0.0.1:1/api/', logLevel: 'debug' }),
  'control-int',
);
const kafka = createKafkaClient({ brokers: testInfra().brokers, clientId: 'control-int-spec', logger: silentLogger() });

const tenant = uniqueId('ctl');
/** Created with a routed config; its row is later rewritten in clear, as stored before secrets were sealed. */
const olderTenant = uniqueId('ctl-older');
const startedAt = new Date().toISOString();
const telemetryAad = { tenant, topic: Topics.telemetry.name, schema: 'telemetry-batch@1' };
const sample = Buffer.from('{"points":[]}');
/** Receiver secrets of the routed config: they reach the control topic and PostgreSQL sealed only, never a log line, an answer or an audit event. */
const receiverSecrets = { botToken: `xoxb-${uniqueId('bot')}`, routingKey: uniqueId('pdkey'), webhookSecret: uniqueId('whsec') };
const routedConfig = {
  slackChannel: '#oncall-ctl-3',
  rules: [],
  alertRules: [
    { id: 'search-latency', expr: 'p95(api_latency_ms{endpoint="/search"}) > 250', for: '5m', keepFiringFor: '10m', resolveThreshold: 200, severity: 'critical' },
    { id: 'error-ratio', expr: 'sum(errors) / sum(requests) > 0.05 for 2m', severity: 'warning', labels: { team: 'api' } },
  ],
  routing: {
    route: { receiver: 'team', group_by: ['alertname'], routes: [{ matchers: ['severity="critical"'], receiver: 'pager', escalation: 'standard' }] },
    receivers: [
      { name: 'team', slack_configs: [{ channel: '#api', bot_token: receiverSecrets.botToken }], webhook_configs: [{ url: 'https://hooks.example.com/h', secret: receiverSecrets.webhookSecret }] },
      { name: 'pager', pagerduty_configs: [{ routing_key: receiverSecrets.routingKey }], failover: 'team' },
    ],
    inhibit_rules: [{ source_matchers: ['severity="critical"'], target_matchers: ['severity="warning"'], equal: ['alertname'] }],
    escalations: [{ name: 'standard', steps: [{ receivers: ['pager'], after: '0s' }, { receivers: ['team'], after: '15m' }], repeat: 1 }],
  },
  templates: { 'alert.firing.title': '{severity}: {alertname}' },
};

async function call<T = unknown>(method: string, path: string, opts: { body?: unknown; raw?: string; token?: string | null } = {}) {
  const headers: Record<string, string> = {};
  const token = opts.token === undefined ? secrets.adminToken : opts.token;
  if (token !== null) headers['authorization'] = `Bearer ${token}`;
  const payload = opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
  if (payload !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${control.url}${path}`, { method, headers, body: payload });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

type Routing = typeof routedConfig.routing;
const sealedSecret = expect.stringMatching(/^sealed:v1:\d+:[A-Za-z0-9+/]+=*$/);
const expectNoReceiverSecret = (text: string) => {
  for (const secret of Object.values(receiverSecrets)) expect(text).not.toContain(secret);
};

async function storedAlertConfig(id: string): Promise<{ routing?: Routing } | undefined> {
  const pool = new Pool({ connectionString: testInfra().databaseUrl });
  try {
    const { rows } = await pool.query('select config from control.alert_configs where tenant = $1', [id]);
    return rows[0]?.config;
  } finally {
    await pool.end();
  }
}

const issuePaths = (body: unknown) => ((body as { issues?: Issue[] }).issues ?? []).map((i) => i.path);

/** The control-topic records of this run's tenant (and its API keys), in topic order. */
async function controlRecords(until: (mine: RawRecord[]) => boolean, ids: Set<string>): Promise<RawRecord[]> {
  // Filtered as read: a long control topic (every tenant any run made) stays a linear read.
  // The platform's API-key MAC keys too: a directory needs them to check this run's keys.
  const mine = (r: RawRecord) => r.key !== null && (ids.has(r.key.split('/')[1]) || r.key.startsWith('api_key_mac/'));
  return readRawRecords(kafka, Topics.control.name, { filter: mine, until, timeoutMs: 30_000 });
}

/** What any service would know after reading these records: keys unwrapped with the KEK. */
function directoryFrom(records: RawRecord[]): TenantDirectory {
  const directory = new TenantDirectory(new TenantKeyring(kek));
  for (const r of records) directory.apply(r.key, r.value === null ? null : JSON.parse(r.value.toString('utf8')));
  return directory;
}

const has = (key: string, value: 'value' | 'tombstone' = 'value') => (rs: RawRecord[]) =>
  rs.some((r) => r.key === key && (value === 'tombstone' ? r.value === null : r.value !== null));
const valueOf = (rs: RawRecord[], key: string) => {
  const r = [...rs].reverse().find((x) => x.key === key && x.value !== null);
  return r ? (JSON.parse(r.value!.toString('utf8')) as Record<string, unknown>) : undefined;
};

describe('control (process, real Kafka + PostgreSQL)', () => {
  const ids = new Set([tenant, olderTenant]);
  let ingestKey: ApiKeyCreated;
  let readKey: ApiKeyCreated;
  let sealedV1: { keyVersion: number; ciphertext: Buffer };
  /** The log file is appended to across runs: this run's lines start here. */
  let logStart = 0;

  beforeAll(async () => {
    logStart = existsSync(control.logFile) ? statSync(control.logFile).size : 0;
    await control.start();
  }, 90_000);

  afterAll(async () => {
    await control.stop();
  }, 30_000);

  it('refuses the admin API without the admin token, or with a wrong one (401)', async () => {
    for (const token of [null, 'not-the-admin-token-but-long-enough', `${secrets.adminToken}x`]) {
      const list = await call('GET', '/v1/tenants', { token });
      expect(list.status).toBe(401);
      expect(list.body).toMatchObject({ error: 'unauthorized' });
      const create = await call('POST', '/v1/tenants', { token, body: { id: uniqueId('ctl-denied'), displayName: 'nope' } });
      expect(create.status).toBe(401);
    }
    // A refused create left nothing behind.
    const list = await call<{ id: string }[]>('GET', '/v1/tenants');
    expect(list.status).toBe(200);
    expect(list.body.filter((t) => t.id.startsWith('ctl-denied'))).toEqual([]);
  });

  it('creates a tenant (201), refuses the same id again (409)', async () => {
    const body = {
      id: tenant,
      displayName: 'Label Control',
      locale: 'fr-FR',
      alerting: { slackChannel: '#oncall-ctl', rules: [{ id: 'lat', metric: 'api_latency_ms', stat: 'p95', op: '>', threshold: 250 }] },
    };
    const created = await call('POST', '/v1/tenants', { body });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: tenant, displayName: 'Label Control', locale: 'fr-FR', shards: 1, status: 'active' });

    const again = await call('POST', '/v1/tenants', { body: { ...body, displayName: 'Someone else' } });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ error: 'tenant_exists' });

    const list = await call<{ id: string; displayName: string }[]>('GET', '/v1/tenants');
    expect(list.body.filter((t) => t.id === tenant)).toEqual([expect.objectContaining({ displayName: 'Label Control' })]);
  });

  it('answers a bad body with 400 and every field path, refuses unknown fields, and keeps what was accepted', async () => {
    const rejectedId = uniqueId('ctl-rejected');
    const bad = await call('POST', '/v1/tenants', {
      body: {
        id: 'Not_A_Valid_Id!',
        displayName: 'x',
        locale: 'french',
        alerting: { rules: [{ id: 'r1', metric: 'api_latency_ms', stat: 'p95', op: '=>', threshold: 1 }] },
      },
    });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ error: 'invalid_request' });
    expect(issuePaths(bad.body)).toEqual(expect.arrayContaining(['id', 'locale', 'alerting.rules.0.op']));

    const unknownField = await call<{ issues: Issue[] }>('POST', '/v1/tenants', { body: { id: rejectedId, displayName: 'x', plan: 'gold' } });
    expect(unknownField.status).toBe(400);
    expect(unknownField.body.issues).toEqual([expect.objectContaining({ path: '(root)', message: expect.stringContaining('plan') })]);

    const missing = await call('POST', '/v1/tenants', { body: { id: rejectedId } });
    expect(missing.status).toBe(400);
    expect(issuePaths(missing.body)).toEqual(['displayName']);

    const notJson = await call<{ message: string }>('POST', '/v1/tenants', { raw: '{"id": ' });
    expect(notJson.status).toBe(400);
    expect(notJson.body.message).toMatch(/not valid JSON/);

    const badScopes = await call('POST', `/v1/tenants/${tenant}/api-keys`, { body: { scopes: ['ingest', 'root'] } });
    expect(badScopes.status).toBe(400);
    expect(issuePaths(badScopes.body)).toEqual(['scopes.1']);

    const badParam = await call('POST', '/v1/tenants/NOT_A_TENANT/api-keys', { body: { scopes: ['ingest'] } });
    expect(badParam.status).toBe(400);
    expect(issuePaths(badParam.body)).toEqual(['tenant']);

    const unknownTenant = await call('POST', `/v1/tenants/${uniqueId('ctl-nobody')}/api-keys`, { body: { scopes: ['ingest'] } });
    expect(unknownTenant.status).toBe(404);

    // Nothing of the refused requests exists; the tenant accepted earlier is intact.
    const list = await call<{ id: string }[]>('GET', '/v1/tenants');
    expect(list.body.map((t) => t.id)).toContain(tenant);
    expect(list.body.map((t) => t.id)).not.toContain(rejectedId);
  });

  it('publishes the tenant, its data and pseudonym keys (unwrappable with the KEK) and its alert config', async () => {
    const keys = [`tenant/${tenant}`, `data_key/${tenant}/data/1`, `data_key/${tenant}/pseudonym/1`, `alert_config/${tenant}`];
    const records = await controlRecords((rs) => keys.every((k) => has(k)(rs)), ids);
    for (const k of keys) expect(records.filter((r) => r.key === k)).toHaveLength(1);
    for (const r of records) {
      expect(r.headers).toMatchObject({ [Headers.schema]: ControlRecordMessage.id, [Headers.codec]: 'json', [Headers.keyVersion]: 'none' });
    }
    expect(valueOf(records, `tenant/${tenant}`)).toMatchObject({ kind: 'tenant', tenant, displayName: 'Label Control', locale: 'fr-FR', status: 'active', shards: 1 });
    expect(valueOf(records, `alert_config/${tenant}`)).toMatchObject({
      kind: 'alert_config',
      tenant,
      slackChannel: '#oncall-ctl',
      rules: [{ id: 'lat', metric: 'api_latency_ms', stat: 'p95', op: '>', threshold: 250, severity: 'warning' }],
    });
    for (const purpose of ['data', 'pseudonym']) {
      expect(valueOf(records, `data_key/${tenant}/${purpose}/1`)).toMatchObject({ kind: 'data_key', tenant, purpose, version: 1, kekId: 'kek-1', state: 'active' });
    }

    const directory = directoryFrom(records);
    expect(directory.tenant(tenant)).toMatchObject({ locale: 'fr-FR' });
    expect(directory.alertConfig(tenant)?.slackChannel).toBe('#oncall-ctl');
    sealedV1 = directory.keyring.encrypt(telemetryAad, sample);
    expect(sealedV1.keyVersion).toBe(1);
    expect(directory.keyring.decrypt(telemetryAad, 1, sealedV1.ciphertext)).toEqual(sample);
    expect(directory.keyring.pseudonymise(tenant, 'user-1')).toMatch(/^u_[A-Za-z0-9_-]{43}$/);
    // The wrapped key is useless under any other KEK.
    const foreign = new TenantDirectory(new TenantKeyring(KeyEncryptionKey.generate('kek-1')));
    const dataKey = records.find((r) => r.key === `data_key/${tenant}/data/1`)!;
    expect(() => foreign.apply(dataKey.key, JSON.parse(dataKey.value!.toString('utf8')))).toThrow();
  });

  it('returns an API key secret once; the topic carries only its HMAC under the KEK-wrapped MAC key, and the directory authenticates it', async () => {
    const created = await call<ApiKeyCreated>('POST', `/v1/tenants/${tenant}/api-keys`, { body: { scopes: ['ingest'] } });
    expect(created.status).toBe(201);
    ingestKey = created.body;
    expect(ingestKey).toMatchObject({ tenant, scopes: ['ingest'], keyId: expect.stringMatching(/^[a-z0-9]{8,32}$/) });
    expect(ingestKey.secret).toMatch(new RegExp(`^hr_${ingestKey.keyId}_[A-Za-z0-9_-]{43}$`));
    const read = await call<ApiKeyCreated>('POST', `/v1/tenants/${tenant}/api-keys`, { body: { scopes: ['read'] } });
    expect(read.status).toBe(201);
    readKey = read.body;
    ids.add(ingestKey.keyId).add(readKey.keyId);

    const records = await controlRecords((rs) => has(`api_key/${ingestKey.keyId}`)(rs) && has(`api_key/${readKey.keyId}`)(rs), ids);
    const published = valueOf(records, `api_key/${ingestKey.keyId}`) as { macVersion: number; secretHash: string };
    expect(published).toEqual({
      kind: 'api_key',
      keyId: ingestKey.keyId,
      tenant,
      hash: 'hmac-sha256',
      macVersion: expect.any(Number),
      secretHash: expect.stringMatching(/^[0-9a-f]{64}$/),
      scopes: ['ingest'],
      createdAt: ingestKey.createdAt,
    });
    // Not the plain SHA-256 (a copy of the topic could test guesses against that), but the HMAC under
    // the MAC key its record names, which only a holder of the KEK can unwrap.
    expect(published.secretHash).not.toBe(hashApiKey(ingestKey.secret));
    const macRecord = valueOf(records, `api_key_mac/${published.macVersion}`) as { kekId: string; wrapped: string; createdAt: string };
    const macKeyring = new TenantKeyring(kek);
    macKeyring.add({ tenant: API_KEY_MAC_LABEL, purpose: 'pseudonym', version: published.macVersion, kekId: macRecord.kekId, wrapped: macRecord.wrapped, createdAt: macRecord.createdAt });
    expect(published.secretHash).toBe(macKeyring.hmac(API_KEY_MAC_LABEL, published.macVersion, ingestKey.secret));

    // The secret (or its random part) is nowhere on the whole control topic, values or headers.
    const all = await readRawRecords(kafka, Topics.control.name, { until: has(`api_key/${readKey.keyId}`), timeoutMs: 30_000 });
    const onTopic = all.map((r) => `${r.key} ${r.value?.toString('utf8') ?? ''} ${JSON.stringify(r.headers)}`).join('\n');
    for (const k of [ingestKey, readKey]) {
      expect(onTopic).not.toContain(k.secret);
      expect(onTopic).not.toContain(k.secret.slice(`hr_${k.keyId}_`.length));
    }

    const directory = directoryFrom(records);
    expect(directory.authenticate(ingestKey.secret, 'ingest')).toEqual({ tenant, keyId: ingestKey.keyId, scopes: ['ingest'] });
    expect(directory.authenticate(ingestKey.secret, 'read')).toBeUndefined();
    expect(directory.authenticate(readKey.secret, 'read')).toMatchObject({ tenant });
    expect(directory.authenticate(readKey.secret, 'ingest')).toBeUndefined();
    // Same key id, different secret: refused.
    expect(directory.authenticate(`hr_${ingestKey.keyId}_${'A'.repeat(43)}`, 'ingest')).toBeUndefined();
  });

  it('revokes an API key: the topic record carries revokedAt and the directory no longer authenticates it', async () => {
    const revoked = await call('DELETE', `/v1/tenants/${tenant}/api-keys/${ingestKey.keyId}`);
    expect(revoked.status).toBe(200);
    expect(revoked.body).toEqual({ keyId: ingestKey.keyId, revoked: true });
    // Another tenant's path cannot revoke it, an unknown key is a 404.
    expect((await call('DELETE', `/v1/tenants/${uniqueId('ctl-other')}/api-keys/${readKey.keyId}`)).status).toBe(404);
    expect((await call('DELETE', `/v1/tenants/${tenant}/api-keys/0123456789abcdef`)).status).toBe(404);

    const records = await controlRecords((rs) => rs.some((r) => r.key === `api_key/${ingestKey.keyId}` && r.value?.toString('utf8').includes('revokedAt')), ids);
    expect(valueOf(records, `api_key/${ingestKey.keyId}`)).toMatchObject({ revokedAt: expect.any(String), hash: 'hmac-sha256', secretHash: expect.not.stringMatching(hashApiKey(ingestKey.secret)) });
    const directory = directoryFrom(records);
    expect(directory.authenticate(ingestKey.secret, 'ingest')).toBeUndefined();
    expect(directory.authenticate(readKey.secret, 'read')).toMatchObject({ tenant });
  });

  it('replaces the alert config (400 with field paths for a bad one, 404 for an unknown tenant)', async () => {
    const bad = await call('PUT', `/v1/tenants/${tenant}/alert-config`, {
      body: { slackChannel: 'not a channel!', rules: [{ id: 'r', metric: 'm', stat: 'p42', op: '=', threshold: 'high' }] },
    });
    expect(bad.status).toBe(400);
    expect(issuePaths(bad.body)).toEqual(expect.arrayContaining(['slackChannel', 'rules.0.stat', 'rules.0.op', 'rules.0.threshold']));
    expect((await call('PUT', `/v1/tenants/${uniqueId('ctl-nobody')}/alert-config`, { body: { rules: [] } })).status).toBe(404);

    const rules = [{ id: 'errors', metric: 'api_errors', stat: 'sum', op: '>=', threshold: 5, severity: 'critical' }];
    const anomalies = { minScore: 0.9, severity: 'critical', metrics: ['api_latency_ms'] };
    const badAnomalies = await call('PUT', `/v1/tenants/${tenant}/alert-config`, { body: { rules, anomalies: { minScore: 2 } } });
    expect(issuePaths(badAnomalies.body)).toContain('anomalies.minScore');
    const put = await call('PUT', `/v1/tenants/${tenant}/alert-config`, { body: { slackChannel: '#oncall-ctl-2', rules, anomalies } });
    expect(put.status).toBe(200);
    const records = await controlRecords((rs) => rs.some((r) => r.key === `alert_config/${tenant}` && r.value?.toString('utf8').includes('#oncall-ctl-2')), ids);
    expect(directoryFrom(records).alertConfig(tenant)).toMatchObject({ slackChannel: '#oncall-ctl-2', rules, anomalies });
  });

  it('publishes expression rules, routing and templates on the control topic as written, receiver secrets sealed', async () => {
    const put = await call<{ routing: Routing }>('PUT', `/v1/tenants/${tenant}/alert-config`, { body: routedConfig });
    expect(put.status).toBe(200);
    // The answer shows where the secrets are, never what they are.
    expectNoReceiverSecret(JSON.stringify(put.body));
    expect(put.body.routing.receivers).toEqual([
      { ...routedConfig.routing.receivers[0], slack_configs: [{ channel: '#api', bot_token: '***' }], webhook_configs: [{ url: 'https://hooks.example.com/h', secret: '***' }] },
      { ...routedConfig.routing.receivers[1], pagerduty_configs: [{ routing_key: '***' }] },
    ]);

    const records = await controlRecords((rs) => rs.some((r) => r.key === `alert_config/${tenant}` && r.value?.toString('utf8').includes('#oncall-ctl-3')), ids);
    const record = valueOf(records, `alert_config/${tenant}`);
    expect(record).toMatchObject({ kind: 'alert_config', tenant, slackChannel: '#oncall-ctl-3', rules: [] });
    expect(record?.['alertRules']).toEqual(routedConfig.alertRules);
    expect(record?.['templates']).toEqual(routedConfig.templates);
    // No alert_config record of this tenant ever carried a secret in clear.
    expectNoReceiverSecret(records.filter((r) => r.key === `alert_config/${tenant}`).map((r) => r.value?.toString('utf8') ?? '').join('\n'));
    const routing = record?.['routing'] as Routing;
    expect(routing.receivers[0]?.slack_configs?.[0]?.bot_token).toEqual(sealedSecret);
    expect(routing.receivers[0]?.webhook_configs?.[0]?.secret).toEqual(sealedSecret);
    expect(routing.receivers[1]?.pagerduty_configs?.[0]?.routing_key).toEqual(sealedSecret);
    // Alerting's view: the directory's keyring (keys unwrapped with the KEK) opens them to what was written.
    const directory = directoryFrom(records);
    expect(openReceiverSecrets(directory.alertConfig(tenant)!.routing!, tenant, directory.keyring)).toEqual(routedConfig.routing);

    // PostgreSQL holds the same sealed values.
    const stored = await storedAlertConfig(tenant);
    expectNoReceiverSecret(JSON.stringify(stored));
    expect(openReceiverSecrets(stored!.routing!, tenant, directory.keyring)).toEqual(routedConfig.routing);
  });

  it('seals the receiver secrets of a config given at tenant creation', async () => {
    const created = await call('POST', '/v1/tenants', { body: { id: olderTenant, displayName: 'Older', alerting: routedConfig } });
    expect(created.status).toBe(201);
    expectNoReceiverSecret(JSON.stringify(created.body));
    const records = await controlRecords(has(`alert_config/${olderTenant}`), ids);
    const value = records.find((r) => r.key === `alert_config/${olderTenant}`)!.value!.toString('utf8');
    expectNoReceiverSecret(value);
    const directory = directoryFrom(records);
    expect(openReceiverSecrets(directory.alertConfig(olderTenant)!.routing!, olderTenant, directory.keyring)).toEqual(routedConfig.routing);
    // Bound to its tenant: the other tenant's keyring entry cannot open it.
    expect(() => openReceiverSecrets(directory.alertConfig(olderTenant)!.routing!, tenant, directory.keyring)).toThrow(/receivers\.0\.slack_configs\.0\.bot_token/);
  });

  it('refuses an invalid config with 400 (each problem, the expression one with line and column) and neither stores nor publishes it', async () => {
    const expr = 'p95(api_latency_ms{endpoint="/search"} > 250';
    const invalid = {
      ...routedConfig,
      slackChannel: '#never-published',
      alertRules: [...routedConfig.alertRules, { id: 'ok', expr: 'avg(x) > 1' }, { id: 'broken', expr }],
      routing: { ...routedConfig.routing, route: { ...routedConfig.routing.route, routes: [{ matchers: ['team="db"'], receiver: 'dba' }] } },
    };
    const bad = await call<{ error: string; issues: Issue[] }>('PUT', `/v1/tenants/${tenant}/alert-config`, { body: invalid });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('invalid_request');
    const column = expr.indexOf('>') + 1;
    expect(bad.body.issues).toEqual([
      { path: 'alertRules.3.expr', message: `1:${column}: expected ')', found '>'`, line: 1, column, reason: "expected ')', found '>'", detail: `  ${expr}\n  ${' '.repeat(column - 1)}^` },
      { path: 'routing.route.routes.0.receiver', message: 'undefined receiver "dba"' },
    ]);
    const duplicate = await call('PUT', `/v1/tenants/${tenant}/alert-config`, { body: { ...routedConfig, slackChannel: '#never-published', rules: [{ id: 'error-ratio', metric: 'm', stat: 'p95', op: '>', threshold: 1 }] } });
    expect(duplicate.status).toBe(400);
    expect(issuePaths(duplicate.body)).toEqual(['alertRules.1.id']);

    // Stored: control's table still holds the config accepted before.
    const stored = await storedAlertConfig(tenant);
    expect(stored).toMatchObject({ slackChannel: '#oncall-ctl-3', alertRules: routedConfig.alertRules, routing: { route: routedConfig.routing.route } });
    // Published: the same config put again lands after anything the refused requests could have written
    // (same key, same partition), so reading up to it shows the topic never carried them.
    expect((await call('PUT', `/v1/tenants/${tenant}/alert-config`, { body: routedConfig })).status).toBe(200);
    const configs = (rs: RawRecord[]) => rs.filter((r) => r.key === `alert_config/${tenant}` && r.value !== null).map((r) => r.value!.toString('utf8'));
    const records = await controlRecords((rs) => configs(rs).filter((v) => v.includes('#oncall-ctl-3')).length >= 2, ids);
    expect(configs(records).filter((v) => v.includes('#oncall-ctl-3'))).toHaveLength(2);
    expect(configs(records).some((v) => v.includes('#never-published'))).toBe(false);
  });

  it('rotates the data key: v2 on the topic, encryption moves to v2, v1 still decrypts', async () => {
    const rotated = await call('POST', `/v1/tenants/${tenant}/data-keys/rotate`);
    expect(rotated.status).toBe(201);
    expect(rotated.body).toEqual({ tenant, version: 2 });

    const records = await controlRecords(has(`data_key/${tenant}/data/2`), ids);
    expect(valueOf(records, `data_key/${tenant}/data/2`)).toMatchObject({ kind: 'data_key', tenant, purpose: 'data', version: 2, state: 'active' });
    const directory = directoryFrom(records);
    const sealedV2 = directory.keyring.encrypt(telemetryAad, sample);
    expect(sealedV2.keyVersion).toBe(2);
    expect(directory.keyring.decrypt(telemetryAad, 2, sealedV2.ciphertext)).toEqual(sample);
    expect(directory.keyring.decrypt(telemetryAad, 1, sealedV1.ciphertext)).toEqual(sample);
    // The pseudonym key did not rotate: pseudonyms stay stable.
    expect(records.some((r) => r.key === `data_key/${tenant}/pseudonym/2`)).toBe(false);
  });

  it('erases a tenant: tenant_erased and tombstones on the topic, its keys destroyed, its id never reused', async () => {
    const erased = await call('DELETE', `/v1/tenants/${tenant}`);
    expect(erased.status).toBe(200);
    expect(erased.body).toMatchObject({ tenant, erasedAt: expect.any(String), keysDestroyed: 3 });

    const tombstoned = [
      `tenant/${tenant}`,
      `alert_config/${tenant}`,
      `data_key/${tenant}/data/1`,
      `data_key/${tenant}/data/2`,
      `data_key/${tenant}/pseudonym/1`,
      `api_key/${ingestKey.keyId}`,
      `api_key/${readKey.keyId}`,
    ];
    const records = await controlRecords((rs) => has(`tenant_erased/${tenant}`)(rs) && tombstoned.every((k) => has(k, 'tombstone')(rs)), ids);
    expect(valueOf(records, `tenant_erased/${tenant}`)).toMatchObject({ kind: 'tenant_erased', tenant });
    for (const k of tombstoned) expect(records.filter((r) => r.key === k && r.value === null)).toHaveLength(1);

    const directory = directoryFrom(records);
    expect(directory.isErased(tenant)).toBe(true);
    expect(directory.tenant(tenant)).toBeUndefined();
    expect(directory.alertConfig(tenant)).toBeUndefined();
    expect(directory.authenticate(readKey.secret, 'read')).toBeUndefined();
    expect(() => directory.keyring.decrypt(telemetryAad, 1, sealedV1.ciphertext)).toThrow(TenantDestroyedError);
    expect(() => directory.keyring.encrypt(telemetryAad, sample)).toThrow(TenantDestroyedError);
    expect(() => directory.keyring.pseudonymise(tenant, 'user-1')).toThrow(TenantDestroyedError);

    const recreate = await call('POST', '/v1/tenants', { body: { id: tenant, displayName: 'Back again' } });
    expect(recreate.status).toBe(409);
    expect(recreate.body).toMatchObject({ error: 'tenant_erased' });
    expect((await call<{ id: string }[]>('GET', '/v1/tenants')).body.map((t) => t.id)).not.toContain(tenant);
    for (const [method, path] of [
      ['POST', `/v1/tenants/${tenant}/api-keys`],
      ['POST', `/v1/tenants/${tenant}/data-keys/rotate`],
      ['DELETE', `/v1/tenants/${tenant}`],
    ] as const) {
      expect((await call(method, path, method === 'POST' ? { body: {} } : {})).status).toBe(404);
    }
  });

  it('records an audit event on headroom.audit.v1 for every change, without secrets', async () => {
    // alert_config.update: the legacy config, the routed one and its re-put; the refused ones left no event.
    // The erasure also opens its saga (erasure.request, followed at GET /v1/erasures/<id>).
    const expected = ['tenant.create', 'api_key.create', 'api_key.create', 'api_key.revoke', 'alert_config.update', 'alert_config.update', 'alert_config.update', 'data_key.rotate', 'tenant.erase', 'erasure.request'];
    const ours = (rs: RawRecord[]) =>
      rs.filter((r) => r.key === tenant && r.value !== null).map((r) => AuditEventSchema.parse(JSON.parse(r.value!.toString('utf8'))));
    const records = await readRawRecords(kafka, Topics.audit.name, { filter: (r) => r.key === tenant, until: (rs) => ours(rs).length >= expected.length, timeoutMs: 30_000 });
    const events: AuditEvent[] = ours(records);
    expect(events.map((e) => e.action).sort()).toEqual([...expected].sort());
    // The real actor: the admin token is the platform's bootstrap credential.
    for (const e of events) expect(e).toMatchObject({ service: 'control', actor: 'platform', tenant, outcome: 'success' });
    expect(events.filter((e) => e.action === 'api_key.create').map((e) => e.target).sort()).toEqual([ingestKey.keyId, readKey.keyId].sort());
    expect(events.find((e) => e.action === 'data_key.rotate')?.target).toBe('data/2');
    const text = records.map((r) => r.value?.toString('utf8') ?? '').join('\n');
    for (const k of [ingestKey, readKey]) expect(text).not.toContain(k.secret);
    for (const secret of Object.values(receiverSecrets)) expect(text).not.toContain(secret);
  });

  it('stores the audit trail and serves it to operators only, newest first, including refused admin requests', async () => {
    // alert_config.update: the legacy config, the routed one and its re-put; the refused ones left no event.
    // The erasure also opens its saga (erasure.request, followed at GET /v1/erasures/<id>).
    const expected = ['tenant.create', 'api_key.create', 'api_key.create', 'api_key.revoke', 'alert_config.update', 'alert_config.update', 'alert_config.update', 'data_key.rotate', 'tenant.erase', 'erasure.request'];
    const stored = await expectEventually(async () => {
      const res = await call<{ events: AuditEvent[] }>('GET', `/v1/audit?tenant=${tenant}`);
      expect(res.status).toBe(200);
      expect(res.body.events.map((e) => e.action).sort()).toEqual([...expected].sort());
      return res.body.events;
    }, { timeoutMs: 30_000 });
    expect(['tenant.erase', 'erasure.request']).toContain(stored[0].action);
    expect((await call('GET', `/v1/audit?tenant=${tenant}`, { token: null })).status).toBe(401);
    expect(issuePaths((await call('GET', '/v1/audit?limit=0')).body)).toContain('limit');
    // The refusals of the first test were audited, without the token that was presented.
    await expectEventually(async () => {
      const res = await call<{ events: (AuditEvent & { details: Record<string, unknown> })[] }>('GET', '/v1/audit?limit=1000');
      const denied = res.body.events.filter((e) => e.action === 'auth.denied' && e.outcome === 'denied' && e.at >= startedAt);
      expect(denied.length).toBeGreaterThanOrEqual(6);
      expect(JSON.stringify(denied)).not.toContain('not-the-admin-token-but-long-enough');
    }, { timeoutMs: 30_000 });
  });

  it('shuts down cleanly on SIGTERM (exit 0), having never logged an API key or receiver secret', async () => {
    expect(await control.stop()).toBe(0);
    const log = readFileSync(control.logFile).subarray(logStart).toString('utf8');
    expect(log).toContain('"stopped cleanly"');
    for (const k of [ingestKey, readKey]) {
      expect(log).not.toContain(k.secret);
      expect(log).not.toContain(k.secret.slice(`hr_${k.keyId}_`.length));
    }
    expect(log).not.toContain(secrets.adminToken);
    for (const secret of Object.values(receiverSecrets)) expect(log).not.toContain(secret);
  }, 30_000);

  it('re-asserts its state on the control topic when it boots again (a lost topic heals), sealing secrets stored in clear', async () => {
    const erasedKey = `tenant_erased/${tenant}`;
    const olderKey = `alert_config/${olderTenant}`;
    const count = (rs: RawRecord[], key: string) => rs.filter((r) => r.key === key).length;
    const beforeRecords = await controlRecords((rs) => has(erasedKey)(rs) && has(olderKey)(rs), ids);
    const [before, olderBefore] = [count(beforeRecords, erasedKey), count(beforeRecords, olderKey)];
    // A row written before receiver secrets were sealed.
    const pool = new Pool({ connectionString: testInfra().databaseUrl });
    try {
      await pool.query('update control.alert_configs set config = $2 where tenant = $1', [olderTenant, JSON.stringify(routedConfig)]);
    } finally {
      await pool.end();
    }
    const again = new ServiceProcess('control', 5150, serviceEnv('control', secrets, { slackApiUrl: 'http://127.0.0.1:1/api/' }), 'control-int');
    await again.start();
    try {
      const after = await controlRecords((rs) => count(rs, erasedKey) > before && count(rs, olderKey) > olderBefore, ids);
      expect(after.filter((r) => r.key === erasedKey).length).toBe(before + 1);
      // Republishing changes nothing for a reader: the tenant stays erased.
      const directory = directoryFrom(after);
      expect(directory.isErased(tenant)).toBe(true);
      expect(directory.tenant(tenant)).toBeUndefined();
      // The clear row went out sealed, and is stored sealed from now on.
      expectNoReceiverSecret(after.filter((r) => r.key === olderKey).slice(olderBefore).map((r) => r.value!.toString('utf8')).join('\n'));
      expect(openReceiverSecrets(directory.alertConfig(olderTenant)!.routing!, olderTenant, directory.keyring)).toEqual(routedConfig.routing);
      const stored = await storedAlertConfig(olderTenant);
      expectNoReceiverSecret(JSON.stringify(stored));
      expect(openReceiverSecrets(stored!.routing!, olderTenant, directory.keyring)).toEqual(routedConfig.routing);
    } finally {
      expect(await again.stop()).toBe(0);
    }
  }, 90_000);
});
