import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(__dirname, '../../..');

export const SERVICES = ['control', 'collectors', 'analytics', 'alerting', 'exporters'] as const;
export type ServiceName = (typeof SERVICES)[number];

export interface LocalSecrets {
  kek: string;
  adminToken: string;
  slackToken: string;
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
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as LocalSecrets;
  mkdirSync(dir, { recursive: true });
  const secrets: LocalSecrets = {
    kek: randomBytes(32).toString('base64'),
    adminToken: randomBytes(24).toString('base64url'),
    slackToken: `xoxb-local-${randomBytes(12).toString('hex')}`,
  };
  writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return secrets;
}

/** Environment of each service for the local stack; infra addresses default to `npm run infra:up`'s. */
export function serviceEnv(
  service: ServiceName,
  secrets: LocalSecrets,
  extra: { slackApiUrl: string; groupPrefix?: string; logLevel?: string },
): Record<string, string> {
  const env: Record<string, string> = {
    HEADROOM_KEK: secrets.kek,
    LOG_LEVEL: extra.logLevel ?? 'info',
  };
  for (const k of ['KAFKA_BROKERS', 'DATABASE_URL', 'REDIS_URL']) if (process.env[k]) env[k] = process.env[k]!;
  const group = (name: string) => (extra.groupPrefix ? `${extra.groupPrefix}-${name}` : name);
  switch (service) {
    case 'control':
      env['CONTROL_ADMIN_TOKEN'] = secrets.adminToken;
      break;
    case 'analytics':
      env['ANALYTICS_GROUP_ID'] = group('analytics');
      break;
    case 'alerting':
      env['SLACK_TOKEN'] = secrets.slackToken;
      env['SLACK_API_URL'] = extra.slackApiUrl;
      env['ALERTING_GROUP_ID'] = group('alerting');
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
