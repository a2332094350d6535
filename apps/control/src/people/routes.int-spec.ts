/**
 * Every registered route of every service, walked as five real processes on the real Kafka and
 * PostgreSQL: each refuses no credential (401), another tenant's credential (404/403, and never the
 * first tenant's data), a role one step too weak (403), and lets the declared role through. The
 * routes come from the running apps (the `routes` line each logs at boot, from Nest's own registry),
 * so a route added without @Requires/@Public fails here. Then an API key is revoked through control
 * and every service is polled until it refuses it: the delay is printed, not asserted.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Pool } from 'pg';
import { expectEventually, localSecrets, serviceEnv, ServiceProcess, SERVICES, testInfra, type ServiceName } from '@headroom/testing';
import type { Role, RouteEntry } from '@headroom/tenancy';

const PORTS: Record<ServiceName, number> = { control: 5600, collectors: 5601, analytics: 5602, alerting: 5603, exporters: 5604 };
const run = randomBytes(3).toString('hex');
const A = `routes-a-${run}`;
const B = `routes-b-${run}`;
/** Erased by the walk of DELETE /v1/tenants/:tenant (and its people's tokens must die with it). */
const Z = `routes-z-${run}`;
const METRIC_A = `routes_secret_${run}`;

/** Routes anyone may call, service by service; any other route must declare a role or the ingest scope. */
const PUBLIC: Record<ServiceName, string[]> = {
  control: ['GET /healthz', 'GET /readyz', 'GET /metrics', 'GET /openapi.json', 'GET /.well-known/jwks.json'],
  collectors: ['GET /healthz', 'GET /readyz', 'GET /metrics', 'GET /openapi.json'],
  analytics: ['GET /healthz', 'GET /readyz', 'GET /metrics', 'GET /openapi.json'],
  alerting: ['GET /healthz', 'GET /readyz', 'GET /metrics', 'GET /openapi.json', 'POST /v1/slack/actions'],
  exporters: ['GET /healthz', 'GET /readyz', 'GET /metrics', 'GET /openapi.json'],
};

const secrets = localSecrets();
const services = {} as Record<ServiceName, ServiceProcess>;
const routes = {} as Record<ServiceName, RouteEntry[]>;
const platform = secrets.adminToken;

type Tenant = typeof A | typeof B;
/** Per tenant: API keys by scope and people's tokens by role. */
const creds: Record<string, { ingest: string; read: string; admin: string; viewer: string; operator: string; personAdmin: string }> = {};
let zAdmin = '';

async function call(service: ServiceName, method: string, path: string, credential?: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  const withBody = method !== 'GET' && method !== 'DELETE';
  const res = await fetch(`${services[service].url}${path}`, {
    method,
    headers: { ...headers, ...(credential ? { authorization: `Bearer ${credential}` } : {}), ...(withBody ? { 'content-type': 'application/json' } : {}) },
    body: withBody ? JSON.stringify(body ?? {}) : undefined,
  });
  return { status: res.status, text: await res.text() };
}

async function control<T>(method: string, path: string, body: unknown, credential = platform): Promise<{ status: number; body: T }> {
  const res = await call('control', method, path, credential, body);
  return { status: res.status, body: (res.text ? JSON.parse(res.text) : undefined) as T };
}

async function apiKey(tenant: string, scopes: string[]): Promise<{ keyId: string; secret: string }> {
  const res = await control<{ keyId: string; secret: string }>('POST', `/v1/tenants/${tenant}/api-keys`, { scopes });
  expect(res.status).toBe(201);
  return res.body;
}

async function token(tenant: string | undefined, role: Role, credential = platform): Promise<{ status: number; token: string }> {
  const res = await control<{ token: string }>('POST', '/v1/tokens', { sub: `${role}@${tenant ?? 'platform'}.example`, role, ...(tenant ? { tenant } : {}), ttlSeconds: 900 }, credential);
  return { status: res.status, token: res.body?.token };
}

/** The routes a service logged at boot (its latest `routes` line). */
function loggedRoutes(service: ServiceProcess): RouteEntry[] {
  const lines = readFileSync(service.logFile, 'utf8').split('\n').filter((l) => l.includes('"msg":"routes"'));
  if (!lines.length) throw new Error(`${service.name} logged no routes`);
  return (JSON.parse(lines[lines.length - 1]) as { routes: RouteEntry[] }).routes;
}

/** A concrete URL for a route pattern, in tenant `tenant`. */
function concrete(path: string, tenant: string): string {
  return path
    .replace(':tenant', tenant)
    .replace(/:[A-Za-z]+/g, 'x0000000000000000')
    .replace(/\*$/, 'no-such-receiver')
    .concat(path.startsWith('/v1/query/') ? `?match=${METRIC_A}&query=${METRIC_A}` : '');
}

const key = (r: RouteEntry) => `${r.method} ${r.path}`;
const keyIdsOf = (t: string) => [creds[t].ingest, creds[t].read, creds[t].admin].map((secret) => secret.split('_')[1]);

/** The credential of tenant `t` holding exactly what a route needs, and the one a step weaker. */
function exact(t: Tenant, r: RouteEntry): string {
  if (r.requires?.scope === 'ingest') return creds[t].ingest;
  return { viewer: creds[t].read, operator: creds[t].operator, admin: creds[t].admin, 'platform-admin': platform }[r.requires!.role!];
}
function weaker(t: Tenant, r: RouteEntry): string[] {
  if (r.requires?.scope === 'ingest') return [creds[t].read, creds[t].viewer];
  return {
    viewer: [creds[t].ingest],
    operator: [creds[t].read, creds[t].viewer],
    admin: [creds[t].operator],
    'platform-admin': [creds[t].admin, creds[t].personAdmin],
  }[r.requires!.role!];
}

beforeAll(async () => {
  for (const name of SERVICES) {
    services[name] = new ServiceProcess(name, PORTS[name], serviceEnv(name, secrets, { slackApiUrl: 'http://127.0.0.1:9/api/', groupPrefix: `routes-${run}` }), `routes-${run}-${name}`);
  }
  // control first: the others are ready once they have read the control topic it writes.
  await services.control.start(120_000);
  await Promise.all(SERVICES.filter((s) => s !== 'control').map((s) => services[s].start(180_000)));
  for (const name of SERVICES) routes[name] = loggedRoutes(services[name]);

  for (const t of [A, B, Z]) expect((await control('POST', '/v1/tenants', { id: t, displayName: t, locale: 'en' })).status).toBe(201);
  for (const t of [A, B]) {
    const [ingest, read, admin] = [await apiKey(t, ['ingest']), await apiKey(t, ['read']), await apiKey(t, ['admin'])];
    creds[t] = {
      ingest: ingest.secret,
      read: read.secret,
      admin: admin.secret,
      viewer: (await token(t, 'viewer')).token,
      operator: (await token(t, 'operator')).token,
      personAdmin: (await token(t, 'admin')).token,
    };
  }
  zAdmin = (await token(Z, 'admin')).token;
  // Every service knows every key before the walk (they arrive on the control topic).
  await expectEventually(
    async () => {
      for (const t of [A, B]) {
        expect((await call('analytics', 'GET', `/v1/query/series?match=up`, creds[t].read)).status).toBe(200);
        expect((await call('alerting', 'GET', '/v1/alert-groups', creds[t].read)).status).toBe(200);
        expect((await call('exporters', 'GET', '/v1/prometheus/metrics', creds[t].read)).status).toBe(200);
        expect((await call('collectors', 'POST', '/v1/ingest/metrics', creds[t].ingest, { points: [] })).status).not.toBe(401);
      }
      expect((await call('analytics', 'GET', `/v1/query/series?match=up`, zAdmin)).status).toBe(200);
    },
    { timeoutMs: 60_000, intervalMs: 250 },
  );
  // A's data, which B must never see.
  const now = Date.now();
  expect((await call('collectors', 'POST', '/v1/ingest/metrics', creds[A].ingest, { points: [{ name: METRIC_A, labels: { tenant_a_only: 'yes' }, value: 1, timestamp: now }] })).status).toBe(202);
}, 420_000);

afterAll(async () => {
  // Clean shutdown is each app's own lifecycle spec's business; here the processes only have to go.
  await Promise.all(SERVICES.filter((s) => services[s]).map((s) => services[s].stop()));
}, 60_000);

describe('every route of every service', () => {
  it('declares what it needs, and only the listed routes are public', () => {
    for (const name of SERVICES) {
      expect({ service: name, undeclared: routes[name].filter((r) => !r.requires).map(key) }).toEqual({ service: name, undeclared: [] });
      expect({ service: name, public: routes[name].filter((r) => r.requires?.public).map(key).sort() }).toEqual({ service: name, public: [...PUBLIC[name]].sort() });
    }
    // The walk covers something on each service besides its probes.
    for (const name of SERVICES) expect(routes[name].filter((r) => !r.requires?.public).length).toBeGreaterThan(0);
  });

  it('answers the probes and the JWKS without a credential', async () => {
    for (const name of SERVICES) expect((await call(name, 'GET', '/healthz')).status).toBe(200);
    const jwks = JSON.parse((await call('control', 'GET', '/.well-known/jwks.json')).text) as { keys: { kid: string; kty: string }[] };
    expect(jwks.keys.length).toBeGreaterThan(0);
    expect(jwks.keys.every((k) => k.kty === 'OKP' && !('d' in k))).toBe(true);
  });

  it('refuses no credential, a bad one, another tenant and a weaker role; lets the declared role through', async () => {
    const seen: string[] = [];
    for (const name of SERVICES) {
      // The erasure goes last: it ends tenant Z, whose token is checked afterwards.
      const walk = routes[name].filter((r) => !r.requires?.public).sort((x, y) => Number(x.path === '/v1/tenants/:tenant' && x.method === 'DELETE') - Number(y.path === '/v1/tenants/:tenant' && y.method === 'DELETE'));
      for (const r of walk) {
        const label = `${name} ${key(r)}`;
        const url = concrete(r.path, A);
        const status = async (credential?: string) => ({ label, credential: credential?.slice(0, 12), status: (await call(name, r.method, url, credential)).status });
        expect(await status()).toEqual({ label, credential: undefined, status: 401 });
        expect(await status('hr_0000000000000000_' + 'A'.repeat(43))).toMatchObject({ label, status: 401 });
        for (const w of weaker(A, r)) expect({ label, status: (await status(w)).status }).toEqual({ label, status: 403 });

        // B, with the very role the route needs: another tenant's path is not found; a route whose
        // tenant is the credential's answers about B only.
        if (r.requires?.role !== 'platform-admin') {
          for (const other of [exact(B, r), ...(r.requires?.role === 'admin' ? [creds[B].personAdmin] : [])]) {
            const res = await call(name, r.method, url, other);
            // A's data: its metric, its key ids, and (where the URL does not carry it) its name.
            const leaks = [METRIC_A, ...keyIdsOf(A), ...(r.path.includes(':tenant') ? [] : [A])].filter((s) => res.text.includes(s));
            if (r.path.includes(':tenant')) expect({ label, status: res.status }).toEqual({ label, status: 404 });
            expect({ label, leaks }).toEqual({ label, leaks: [] });
          }
        }

        const target = r.method === 'DELETE' && r.path === '/v1/tenants/:tenant' ? concrete(r.path, Z) : url;
        const ok = (await call(name, r.method, target, exact(A, r))).status;
        expect({ label, ok: ok !== 401 && ok !== 403 }).toEqual({ label, ok: true });
        seen.push(label);
      }
    }
    expect(seen.length).toBeGreaterThanOrEqual(10);
    process.stdout.write(`${JSON.stringify({ routesWalked: seen.length, publicRoutes: SERVICES.reduce((n, s) => n + PUBLIC[s].length, 0) })}\n`);
  }, 300_000);

  it("mints people's tokens within the caller's tenant and role, and refuses an erased tenant's people", async () => {
    expect((await token(A, 'operator', creds[A].admin)).status).toBe(201);
    expect((await token(A, 'viewer', creds[A].personAdmin)).status).toBe(201);
    expect((await token(B, 'viewer', creds[A].admin)).status).toBe(403);
    expect((await token(undefined, 'platform-admin', creds[A].admin)).status).toBe(403);
    expect((await token(A, 'viewer', creds[A].operator)).status).toBe(403);
    const res = await control('POST', '/v1/tokens', { sub: 'x', role: 'viewer', tenant: A, ttlSeconds: 13 * 3600 }, platform);
    expect(res.status).toBe(400);
    // Z was erased by the walk: no new token, and the one minted before is refused everywhere.
    expect((await token(Z, 'admin')).status).toBe(404);
    // Control forgot Z's people with it (a token's row names its person).
    const pg = new Pool({ connectionString: testInfra().databaseUrl, max: 1 });
    try {
      const rows = async (t: string) => Number((await pg.query<{ n: string }>('select count(*)::text as n from control.people_tokens where tenant = $1', [t])).rows[0].n);
      expect({ z: await rows(Z), a: (await rows(A)) > 0 }).toEqual({ z: 0, a: true });
    } finally {
      await pg.end();
    }
    await expectEventually(async () => {
      expect((await call('analytics', 'GET', `/v1/query/series?match=up`, zAdmin)).status).toBe(401);
      expect((await call('alerting', 'GET', '/v1/alert-groups', zAdmin)).status).toBe(401);
      expect((await call('exporters', 'GET', '/v1/prometheus/metrics', zAdmin)).status).toBe(401);
    });
  });
});

describe('a platform credential acting for a tenant (X-Scope-OrgID)', () => {
  it("reads the named tenant's data on the credential-scoped routes; a tenant's key cannot borrow the header", async () => {
    // Outside control, the platform's credential is a platform-admin person's token.
    const operatorToken = await token(undefined, 'platform-admin');
    expect(operatorToken.status).toBe(201);
    const platformPerson = operatorToken.token;
    const series = (credential: string, scope?: string) => call('analytics', 'GET', `/v1/query/series?match=${METRIC_A}`, credential, undefined, scope ? { 'X-Scope-OrgID': scope } : {});
    await expectEventually(async () => {
      const res = await series(platformPerson, A);
      expect(res.status).toBe(200);
      expect(res.text).toContain(METRIC_A);
    });
    expect((await series(platformPerson)).status).toBe(403); // names no tenant
    expect((await series(platformPerson, Z)).status).toBe(404); // erased by the walk
    expect((await series(platformPerson, `nope-${run}`)).status).toBe(404);
    const borrowed = await series(creds[B].admin, A);
    expect(borrowed.status).toBe(200);
    expect(borrowed.text).not.toContain(METRIC_A);
    for (const [name, path] of [['alerting', '/v1/alert-groups'], ['exporters', '/v1/prometheus/metrics']] as const) {
      expect({ name, status: (await call(name, 'GET', path, platformPerson, undefined, { 'X-Scope-OrgID': A })).status }).toEqual({ name, status: 200 });
    }
  });
});

describe('revocation', () => {
  it('reaches every service: each refuses a revoked key within 30 s (delay printed)', async () => {
    const victim = await apiKey(A, ['ingest', 'read']);
    const probes: Record<Exclude<ServiceName, 'control'>, () => Promise<number>> = {
      collectors: async () => (await call('collectors', 'POST', '/v1/ingest/metrics', victim.secret, { points: [] })).status,
      analytics: async () => (await call('analytics', 'GET', `/v1/query/series?match=${METRIC_A}`, victim.secret)).status,
      alerting: async () => (await call('alerting', 'GET', '/v1/alert-groups', victim.secret)).status,
      exporters: async () => (await call('exporters', 'GET', '/v1/prometheus/metrics', victim.secret)).status,
    };
    await expectEventually(
      async () => {
        for (const probe of Object.values(probes)) expect(await probe()).not.toBe(401);
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    const revokedAt = Date.now();
    expect((await control('DELETE', `/v1/tenants/${A}/api-keys/${victim.keyId}`, undefined)).status).toBe(200);
    const delays = await Promise.all(
      Object.entries(probes).map(async ([name, probe]) => {
        for (;;) {
          if ((await probe()) === 401) return [name, Date.now() - revokedAt] as const;
          if (Date.now() - revokedAt > 30_000) throw new Error(`${name} still accepts the revoked key after 30 s`);
          await new Promise((r) => setTimeout(r, 20));
        }
      }),
    );
    process.stdout.write(`${JSON.stringify({ revocationDelayMs: Object.fromEntries(delays) })}\n`);
  }, 60_000);

  it("reaches every service for a person's token too (by jti, and all of a person's at once); other tokens keep working", async () => {
    const mint = async (sub: string) => (await control<{ token: string; jti: string }>('POST', '/v1/tokens', { sub, role: 'admin', tenant: A, ttlSeconds: 900 }, platform)).body;
    const victim = await mint('leaver@a.example');
    const second = await mint('leaver@a.example');
    const bystander = await mint('stays@a.example');
    // Collectors takes API keys only (ingest scope); people reach the other four.
    const probes = (t: string): Record<Exclude<ServiceName, 'collectors'>, () => Promise<number>> => ({
      control: async () => (await call('control', 'GET', `/v1/tenants/${A}/data-keys`, t)).status,
      analytics: async () => (await call('analytics', 'GET', `/v1/query/series?match=${METRIC_A}`, t)).status,
      alerting: async () => (await call('alerting', 'GET', '/v1/alert-groups', t)).status,
      exporters: async () => (await call('exporters', 'GET', '/v1/prometheus/metrics', t)).status,
    });
    for (const t of [victim.token, second.token, bystander.token]) for (const probe of Object.values(probes(t))) expect(await probe()).toBe(200);
    // Another tenant's admin cannot revoke A's token, and learns nothing about it.
    expect((await control('DELETE', `/v1/tokens/${victim.jti}`, undefined, creds[B].admin)).status).toBe(404);

    const revokedAt = Date.now();
    expect((await control('DELETE', `/v1/tokens/${victim.jti}`, undefined, creds[A].personAdmin)).status).toBe(200);
    const delays = await Promise.all(
      Object.entries(probes(victim.token)).map(async ([name, probe]) => {
        for (;;) {
          if ((await probe()) === 401) return [name, Date.now() - revokedAt] as const;
          if (Date.now() - revokedAt > 30_000) throw new Error(`${name} still accepts the revoked token after 30 s`);
          await new Promise((r) => setTimeout(r, 20));
        }
      }),
    );
    process.stdout.write(`${JSON.stringify({ tokenRevocationDelayMs: Object.fromEntries(delays) })}\n`);
    // Revoked once: a second revocation finds nothing live.
    expect((await control('DELETE', `/v1/tokens/${victim.jti}`, undefined, platform)).status).toBe(404);

    // Everything the person still holds, at once.
    const all = await control<{ revoked: string[] }>('DELETE', `/v1/tenants/${A}/people/${encodeURIComponent('leaver@a.example')}/tokens`, undefined, creds[A].admin);
    expect(all).toEqual({ status: 200, body: { revoked: [second.jti] } });
    await expectEventually(async () => {
      for (const probe of Object.values(probes(second.token))) expect(await probe()).toBe(401);
    });
    for (const probe of Object.values(probes(bystander.token))) expect(await probe()).toBe(200);
  }, 90_000);
});
