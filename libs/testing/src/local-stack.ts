import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { ControlRecordMessage } from '@headroom/contracts';
import { ControlRecordSigner, generateControlSigningKeys } from '@headroom/crypto';
import type { RecordSigner } from '@headroom/kafka';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(__dirname, '../../..');

export const SERVICES = ['control', 'collectors', 'analytics', 'alerting', 'exporters'] as const;
export type ServiceName = (typeof SERVICES)[number];

export interface LocalSecrets {
  kek: string;
  adminToken: string;
  slackToken: string;
  /** Control's Ed25519 key pair (base64 PKCS#8 / SPKI DER): it signs control records, every service checks them. */
  controlSigningKey: string;
  controlPublicKey: string;
  /** The bearer token /metrics requires. */
  metricsToken: string;
}

/**
 * Where the local stack keeps its secrets and demo keys: per machine, not per clone, because the
 * servers it talks to (PostgreSQL above all, which holds control's wrapped tenant keys) are per
 * machine too. A second clone on the same machine must use the same KEK, or the tenants it finds in
 * PostgreSQL cannot be unwrapped. `HEADROOM_LOCAL_DIR` overrides it.
 */
export function localStateDir(): string {
  return process.env['HEADROOM_LOCAL_DIR'] ?? join(process.env['XDG_CONFIG_HOME'] ?? join(homedir(), '.config'), 'headroom');
}

/**
 * The local stack's secrets, generated once and kept in <localStateDir>/secrets.json (never in the
 * repository), so that restarts and test runs can still decrypt what earlier runs left in Kafka and
 * PostgreSQL. Production takes them from a Kubernetes Secret instead (deploy/helm).
 */
export function localSecrets(): LocalSecrets {
  const dir = localStateDir();
  const file = join(dir, 'secrets.json');
  const stored: Partial<LocalSecrets> = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Partial<LocalSecrets>) : {};
  // Secrets added since the file was written are added to it (the ones there are kept: data depends on them).
  const pair = stored.controlSigningKey && stored.controlPublicKey ? undefined : generateControlSigningKeys();
  const secrets: LocalSecrets = {
    kek: stored.kek ?? randomBytes(32).toString('base64'),
    adminToken: stored.adminToken ?? randomBytes(24).toString('base64url'),
    slackToken: stored.slackToken ?? `xoxb-local-${randomBytes(12).toString('hex')}`,
    controlSigningKey: stored.controlSigningKey && stored.controlPublicKey ? stored.controlSigningKey : pair!.signingKey,
    controlPublicKey: stored.controlSigningKey && stored.controlPublicKey ? stored.controlPublicKey : pair!.publicKey,
    metricsToken: stored.metricsToken ?? randomBytes(24).toString('base64url'),
  };
  if (Object.keys(secrets).some((k) => stored[k as keyof LocalSecrets] === undefined)) {
    mkdirSync(dir, { recursive: true });
    // Written whole then renamed: a concurrent reader never sees half a file.
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(secrets, null, 2), { mode: 0o600 });
    renameSync(tmp, file);
  }
  return secrets;
}

/**
 * What a test needs to run services and write control records as control would: the services'
 * trust settings (control's public key, the metrics token), a signer for a RecordPublisher that
 * plays control (`new RecordPublisher(kafka, keyring, undefined, { signer: trust.signer })`), and
 * the header that reads /metrics. The local stack's pair, so every test and the stack agree.
 */
export function controlTrust(secrets: LocalSecrets = localSecrets()): {
  env: { HEADROOM_CONTROL_PUBLIC_KEY: string; HEADROOM_METRICS_TOKEN: string };
  controlEnv: { CONTROL_SIGNING_KEY: string };
  signer: RecordSigner;
  metricsHeaders: { authorization: string };
} {
  return {
    env: { HEADROOM_CONTROL_PUBLIC_KEY: secrets.controlPublicKey, HEADROOM_METRICS_TOKEN: secrets.metricsToken },
    controlEnv: { CONTROL_SIGNING_KEY: secrets.controlSigningKey },
    signer: { topics: new Set([ControlRecordMessage.topic.name]), signer: ControlRecordSigner.fromBase64(secrets.controlSigningKey) },
    metricsHeaders: { authorization: `Bearer ${secrets.metricsToken}` },
  };
}

/** Environment of each service for the local stack; infra addresses default to `npm run infra:up`'s. */
export function serviceEnv(
  service: ServiceName,
  secrets: LocalSecrets,
  extra: { slackApiUrl: string; groupPrefix?: string; logLevel?: string },
): Record<string, string> {
  const env: Record<string, string> = {
    HEADROOM_KEK: secrets.kek,
    HEADROOM_CONTROL_PUBLIC_KEY: secrets.controlPublicKey,
    HEADROOM_METRICS_TOKEN: secrets.metricsToken,
    LOG_LEVEL: extra.logLevel ?? 'info',
  };
  for (const k of ['KAFKA_BROKERS', 'DATABASE_URL', 'REDIS_URL']) if (process.env[k]) env[k] = process.env[k]!;
  const group = (name: string) => (extra.groupPrefix ? `${extra.groupPrefix}-${name}` : name);
  switch (service) {
    case 'control':
      env['CONTROL_ADMIN_TOKEN'] = secrets.adminToken;
      env['CONTROL_SIGNING_KEY'] = secrets.controlSigningKey;
      break;
    case 'analytics':
      env['ANALYTICS_GROUP_ID'] = group('analytics');
      break;
    case 'alerting':
      env['SLACK_TOKEN'] = secrets.slackToken;
      env['SLACK_API_URL'] = extra.slackApiUrl;
      env['ALERTING_GROUP_ID'] = group('alerting');
      // Every receiver of the tests and of the local stack listens on loopback, which tenants' URLs
      // may not reach by default (apps/alerting/src/channels/egress.ts).
      env['ALERTING_EGRESS_ALLOW'] = '127.0.0.0/8';
      break;
    case 'exporters':
      env['EXPORTERS_GROUP_ID'] = group('exporters');
      break;
    case 'collectors':
      break;
  }
  return env;
}

/** A small client for control's admin API. */
export class ControlClient {
  constructor(
    private readonly baseUrl: string,
    private readonly adminToken: string,
  ) {}

  async request<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
  }

  async createTenant(body: object): Promise<{ status: number }> {
    const res = await this.request('POST', '/v1/tenants', body);
    if (res.status !== 201 && res.status !== 409) throw new Error(`create tenant: ${res.status} ${JSON.stringify(res.body)}`);
    return res;
  }

  async createApiKey(tenant: string, scopes: string[]): Promise<string> {
    const res = await this.request<{ secret: string }>('POST', `/v1/tenants/${tenant}/api-keys`, { scopes });
    if (res.status !== 201) throw new Error(`create API key: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.secret;
  }
}
