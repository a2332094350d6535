import { HttpException, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { exportJWK, generateKeyPair, SignJWT, type KeyLike } from 'jose';
import { KeyEncryptionKey, TenantKeyring } from '@headroom/crypto';
import { controlKey, type ControlRecord } from '@headroom/contracts';
import { Readiness } from '@headroom/runtime';
import { generateApiKey } from '../api-key';
import { TenantDirectory } from '../tenant-directory';
import { AuthGuard } from './auth.guard';
import { Authenticator } from './authenticator';
import type { DenialRecorder } from './denials';
import { PEOPLE_TOKEN_AUDIENCE } from './people-token';
import { Public, Requires } from './requires.decorator';

const at = '2026-01-01T00:00:00Z';
const ISSUER = 'headroom-control';
const PLATFORM = 'platform-token-that-is-long-enough';

class Routes {
  @Requires({ role: 'viewer' }) read() {}
  @Requires({ role: 'operator' }) ack() {}
  @Requires({ role: 'admin' }) configure() {}
  @Requires({ role: 'platform-admin' }) createTenant() {}
  @Requires({ scope: 'ingest' }) ingest() {}
  @Public() healthz() {}
  undeclared() {}
}

async function setup() {
  const dir = new TenantDirectory(new TenantKeyring(KeyEncryptionKey.generate()));
  const put = (r: ControlRecord) => dir.apply(controlKey(r), r);
  const key = (tenant: string, scopes: ('ingest' | 'read' | 'admin')[]) => {
    const k = generateApiKey();
    put({ kind: 'api_key', keyId: k.keyId, tenant, secretHash: k.secretHash, scopes, createdAt: at });
    return k;
  };
  for (const tenant of ['label-a', 'label-b']) put({ kind: 'tenant', tenant, displayName: tenant, status: 'active', shards: 1, locale: 'en', createdAt: at });
  const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  const x = String((await exportJWK(publicKey)).x);
  put({ kind: 'jwks', issuer: ISSUER, keys: [{ kty: 'OKP', crv: 'Ed25519', x, kid: 'people-key-1', alg: 'EdDSA', use: 'sig' }], updatedAt: at });
  const token = (claims: Record<string, unknown>, opts: { key?: KeyLike; issuer?: string; audience?: string; exp?: number | string } = {}) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'EdDSA', kid: 'people-key-1' })
      .setSubject(String(claims['sub'] ?? 'ana@label-a.example'))
      .setIssuer(opts.issuer ?? ISSUER)
      .setAudience(opts.audience ?? PEOPLE_TOKEN_AUDIENCE)
      .setJti('jti-0123456789')
      .setExpirationTime(opts.exp ?? '1h')
      .sign(opts.key ?? privateKey);
  const denied: { reason: string; actor?: string; url: string }[] = [];
  const denials: DenialRecorder = { denied: (req, reason, extra) => void denied.push({ reason, actor: extra?.actor, url: req.url }) };
  const readiness = new Readiness();
  const logger = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined } as never;
  const guard = new AuthGuard(new Reflector(), new Authenticator(dir, { platformToken: PLATFORM }), readiness, logger, denials);
  const call = async (route: keyof Routes, credential?: string, params: Record<string, string> = {}, headers: Record<string, string> = {}) => {
    const request: Record<string, unknown> = { headers: { ...headers, ...(credential ? { authorization: `Bearer ${credential}` } : {}) }, params, method: 'GET', url: `/x/${route}`, routeOptions: { url: `/x/${route}` } };
    const response = { header: () => response };
    const context = {
      getType: () => 'http',
      getHandler: () => Routes.prototype[route],
      getClass: () => Routes,
      switchToHttp: () => ({ getRequest: () => request, getResponse: () => response }),
    } as unknown as ExecutionContext;
    try {
      await guard.canActivate(context);
      return { status: 200, principal: request['principal'] };
    } catch (e) {
      if (e instanceof HttpException) return { status: e.getStatus(), principal: undefined };
      throw e;
    }
  };
  return { put, key, token, call, denied, privateKey };
}

describe('AuthGuard', () => {
  it('refuses a route that declares nothing, even to platform-admin, and audits it', async () => {
    const { call, denied } = await setup();
    expect((await call('undeclared', PLATFORM)).status).toBe(403);
    expect(denied).toEqual([expect.objectContaining({ reason: 'undeclared_route', url: '/x/undeclared' })]);
  });

  it('lets anyone through a public route, and no one without a valid credential elsewhere', async () => {
    const { call, denied } = await setup();
    expect((await call('healthz')).status).toBe(200);
    expect((await call('read')).status).toBe(401);
    expect((await call('read', 'hr_0123456789abcdef_' + 'A'.repeat(43))).status).toBe(401);
    expect((await call('read', 'not-a-credential')).status).toBe(401);
    expect(denied.map((d) => d.reason)).toEqual(['no_credential', 'bad_credential', 'bad_credential']);
  });

  it('maps API key scopes to roles: read is a viewer, admin an admin, ingest only the ingest routes', async () => {
    const { call, key } = await setup();
    const read = key('label-a', ['read']).secret;
    const admin = key('label-a', ['admin']).secret;
    const ingest = key('label-a', ['ingest']).secret;
    expect(await call('read', read)).toMatchObject({ status: 200, principal: { tenant: 'label-a', role: 'viewer', actor: expect.stringMatching(/^key:/) } });
    expect((await call('ack', read)).status).toBe(403);
    expect((await call('ingest', read)).status).toBe(403);
    expect((await call('configure', admin)).status).toBe(200);
    expect((await call('createTenant', admin)).status).toBe(403);
    expect((await call('ingest', ingest)).status).toBe(200);
    expect((await call('read', ingest)).status).toBe(403);
  });

  it("answers 404 for another tenant's path, whatever the role, and lets platform-admin into any tenant", async () => {
    const { call, key, denied } = await setup();
    const adminB = key('label-b', ['admin']).secret;
    expect((await call('configure', adminB, { tenant: 'label-a' })).status).toBe(404);
    expect((await call('configure', adminB, { tenant: 'label-b' })).status).toBe(200);
    expect(denied).toEqual([expect.objectContaining({ reason: 'other_tenant' })]);
    expect(await call('configure', PLATFORM, { tenant: 'label-a' })).toMatchObject({ status: 200, principal: { actor: 'platform', role: 'platform-admin' } });
    expect((await call('createTenant', PLATFORM)).status).toBe(200);
  });

  it("takes a person's token signed with a published key, with its tenant and role", async () => {
    const { call, token } = await setup();
    const operator = await token({ tenant: 'label-a', role: 'operator' });
    expect(await call('ack', operator)).toMatchObject({ status: 200, principal: { actor: 'person:ana@label-a.example', tenant: 'label-a', role: 'operator' } });
    expect((await call('configure', operator)).status).toBe(403);
    expect((await call('ack', operator, { tenant: 'label-b' })).status).toBe(404);
    expect((await call('ingest', operator)).status).toBe(403);
    const platform = await token({ role: 'platform-admin' });
    expect((await call('createTenant', platform)).status).toBe(200);
  });

  it('refuses a token that is expired, for another issuer or audience, signed by an unpublished key, or with inconsistent claims', async () => {
    const { call, token } = await setup();
    const { privateKey: other } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const claims = { tenant: 'label-a', role: 'viewer' };
    expect((await call('read', await token(claims, { exp: Math.floor(Date.now() / 1000) - 120 }))).status).toBe(401);
    expect((await call('read', await token(claims, { issuer: 'someone-else' }))).status).toBe(401);
    expect((await call('read', await token(claims, { audience: 'grafana' }))).status).toBe(401);
    expect((await call('read', await token(claims, { key: other }))).status).toBe(401);
    expect((await call('read', await token({ role: 'viewer' }))).status).toBe(401);
    expect((await call('read', await token({ tenant: 'label-a', role: 'root' }))).status).toBe(401);
    const valid = await token(claims);
    expect((await call('read', valid.replace(/\.[^.]+$/, '.' + 'A'.repeat(86)))).status).toBe(401);
  });

  it("refuses a suspended or erased tenant's people and keys at once", async () => {
    const { call, token, key, put } = await setup();
    const person = await token({ tenant: 'label-a', role: 'admin' });
    const apiKey = key('label-a', ['read']).secret;
    expect((await call('read', person)).status).toBe(200);
    put({ kind: 'tenant', tenant: 'label-a', displayName: 'a', status: 'suspended', shards: 1, locale: 'en', createdAt: at });
    expect((await call('read', person)).status).toBe(401);
    expect((await call('read', apiKey)).status).toBe(401);
    put({ kind: 'tenant', tenant: 'label-b', displayName: 'b', status: 'active', shards: 1, locale: 'en', createdAt: at });
    put({ kind: 'tenant_erased', tenant: 'label-b', erasedAt: at });
    expect((await call('read', await token({ tenant: 'label-b', role: 'admin' }))).status).toBe(401);
  });

  it('lets a platform credential act for the active tenant its X-Scope-OrgID names, and no other credential switch tenants with it', async () => {
    const { call, key, put } = await setup();
    const scope = (tenant: string) => ({ 'x-scope-orgid': tenant });
    // Without the header the platform names no tenant (the handler's tenantOf refuses it); with it, that tenant.
    expect(await call('read', PLATFORM)).toMatchObject({ status: 200, principal: { actor: 'platform', role: 'platform-admin' } });
    expect((await call('read', PLATFORM)).principal).not.toHaveProperty('tenant');
    expect(await call('read', PLATFORM, {}, scope('label-b'))).toMatchObject({ status: 200, principal: { actor: 'platform', tenant: 'label-b' } });
    // Unknown, malformed or suspended: not found, like any tenant that is not there.
    expect((await call('read', PLATFORM, {}, scope('label-zz'))).status).toBe(404);
    expect((await call('read', PLATFORM, {}, scope('../label-b'))).status).toBe(404);
    put({ kind: 'tenant', tenant: 'label-b', displayName: 'b', status: 'suspended', shards: 1, locale: 'en', createdAt: at });
    expect((await call('read', PLATFORM, {}, scope('label-b'))).status).toBe(404);
    // A tenant's own key (even an admin one) stays its own tenant's, whatever the header says.
    const adminA = key('label-a', ['admin']).secret;
    expect(await call('read', adminA, {}, scope('label-b'))).toMatchObject({ status: 200, principal: { tenant: 'label-a' } });
  });

  it("refuses a person's token once its revocation arrives, and only that token", async () => {
    const { call, token, put } = await setup();
    const person = await token({ tenant: 'label-a', role: 'admin' }); // jti-0123456789
    expect((await call('read', person)).status).toBe(200);
    const revocation = { kind: 'token_revoked' as const, jti: 'jti-0123456789', tenant: 'label-a', expiresAt: new Date(Date.now() + 3600_000).toISOString(), revokedAt: at };
    put(revocation);
    expect((await call('read', person)).status).toBe(401);
    // A revocation of another token changes nothing for this one.
    const other = await setup();
    other.put({ ...revocation, jti: 'jti-someone-else' });
    expect((await other.call('read', await other.token({ tenant: 'label-a', role: 'admin' }))).status).toBe(200);
  });

  it('answers 503, not 401, while the control topic is still being read', async () => {
    const { key } = await setup();
    const dir = new TenantDirectory(new TenantKeyring(KeyEncryptionKey.generate()));
    const readiness = new Readiness();
    readiness.register('control_caught_up', () => false);
    const guard = new AuthGuard(new Reflector(), new Authenticator(dir), readiness, { error: () => undefined, warn: () => undefined } as never);
    const request = { headers: { authorization: `Bearer ${key('label-a', ['read']).secret}` }, params: {}, method: 'GET', url: '/x' };
    const context = { getType: () => 'http', getHandler: () => Routes.prototype.read, getClass: () => Routes, switchToHttp: () => ({ getRequest: () => request, getResponse: () => ({ header: () => undefined }) }) } as unknown as ExecutionContext;
    await expect(guard.canActivate(context)).rejects.toMatchObject({ status: 503 });
  });
});
