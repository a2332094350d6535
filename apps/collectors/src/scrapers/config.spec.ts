import { generateKeyPairSync } from 'node:crypto';
import { parseScrapersConfig, validateScrapersConfig } from './config';
import { SCRAPERS } from './registry';
import { collectorsEnvSchema } from '../config';
import { ConfigError, loadConfig } from '@headroom/config';

const controlPublicKey = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' }).toString('base64');

const paths = (r: ReturnType<typeof validateScrapersConfig>) => (r.ok ? [] : r.issues.map((i) => i.path));

describe('COLLECTORS_SCRAPERS', () => {
  it('accepts a full configuration, merging each scraper’s defaults', () => {
    const r = validateScrapersConfig({
      tenant: 'platform-ops',
      intervalMs: 1000,
      scrapers: [
        { type: 'host' },
        { type: 'redis', url: 'redis://:secret@127.0.0.1:6379' },
        { type: 'postgres', url: 'postgres://u:p@127.0.0.1:5432/db', databases: ['db'] },
        { type: 'http_probe', targets: [{ url: 'http://127.0.0.1:4050/healthz' }, { url: 'https://example.com', method: 'HEAD', expectStatus: [200, 301] }] },
        { type: 'node_runtime' },
        { type: 'redis', name: 'redis-cache', url: 'redis://10.0.0.2:6380' },
      ],
    });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config).toMatchObject({ tenant: 'platform-ops', intervalMs: 1000, timeoutMs: 1000, leaseMs: 3000 });
    expect(r.config.scrapers.map((s) => s.name)).toEqual(['host', 'redis', 'postgres', 'http_probe', 'node_runtime', 'redis-cache']);
    expect(r.config.scrapers[0].config).toEqual({ mountPoints: ['/'], interfaces: [], procPath: '/proc' });
    expect(r.config.scrapers[1].config).toEqual({ url: 'redis://:secret@127.0.0.1:6379', timeoutMs: 5000 });
  });

  it('lists every problem at once, each with its path', () => {
    const r = validateScrapersConfig({
      tenant: 'Platform Ops',
      intervalMs: 10,
      leaseMs: 'long',
      extra: 1,
      scrapers: [
        { type: 'host', mountPoints: ['relative', ''], procPath: 'proc' },
        { type: 'redis', url: 'http://127.0.0.1:6379', timeoutMs: 0, db: 1 },
        { type: 'postgres' },
        { type: 'http_probe', targets: [{ url: 'ftp://x' }, { url: 'http://a', expectStatus: [99] }, { url: 'http://a/' }, 'x', { url: 'http://b', method: 'POST' }], timeoutMs: 1.5 },
        { type: 'nope' },
        {},
        { type: 'redis' },
        { type: 'node_runtime', resolutionMs: -1 },
        7,
      ],
    });
    expect(r.ok).toBe(false);
    expect(paths(r).sort()).toEqual(
      [
        'extra',
        'tenant',
        'intervalMs',
        'leaseMs',
        'scrapers.0.mountPoints.0',
        'scrapers.0.mountPoints.1',
        'scrapers.0.procPath',
        'scrapers.1.db',
        'scrapers.1.url',
        'scrapers.1.timeoutMs',
        'scrapers.2.url',
        'scrapers.3.timeoutMs',
        'scrapers.3.targets.0.url',
        'scrapers.3.targets.4.method',
        'scrapers.3.targets.1.expectStatus',
        'scrapers.3.targets.2.url',
        'scrapers.3.targets.3',
        'scrapers.4.type',
        'scrapers.5.type',
        'scrapers.6.name',
        'scrapers.7.resolutionMs',
        'scrapers.8',
      ].sort(),
    );
    if (r.ok) return;
    const msg = (p: string) => r.issues.find((i) => i.path === p)!.message;
    expect(msg('scrapers.4.type')).toMatch(/unknown scraper "nope" \(known: host, redis, http_probe, postgres, node_runtime, kafka, service_runtime\)/);
    expect(msg('scrapers.6.name')).toMatch(/already used/);
    expect(msg('scrapers.1.url')).toMatch(/redis:\/\//);
    expect(msg('scrapers.3.targets.2.url')).toMatch(/already probed/);
    expect(msg('extra')).toMatch(/unknown setting/);
  });

  it('refuses a missing scraper list, a non-object, and JSON that does not parse', () => {
    expect(paths(validateScrapersConfig({ tenant: 'ops' }))).toEqual(['scrapers']);
    expect(paths(validateScrapersConfig({ scrapers: [{ type: 'http_probe' }] }))).toEqual(['tenant', 'scrapers.0.targets']);
    expect(paths(validateScrapersConfig([]))).toEqual(['']);
    const bad = parseScrapersConfig('{"tenant":');
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.issues[0].message).toMatch(/is not JSON/);
  });

  it('every registered scraper accepts its own defaults (but those that need a target)', () => {
    for (const s of SCRAPERS) {
      const issues = s.validate(structuredClone(s.defaultConfig));
      if (s.type === 'postgres') expect(issues.map((i) => i.path)).toEqual(['url']);
      else if (s.type === 'http_probe' || s.type === 'service_runtime') expect(issues.map((i) => i.path)).toEqual(['targets']);
      else expect(issues).toEqual([]);
      expect(s.validate(null)).toEqual([{ path: '', message: 'must be an object' }]);
    }
  });

  it('is validated at boot with the other variables: every problem under COLLECTORS_SCRAPERS.<path>; unset means none', () => {
    const kek = Buffer.alloc(32, 1).toString('base64');
    expect(loadConfig(collectorsEnvSchema, { HEADROOM_KEK: kek, HEADROOM_CONTROL_PUBLIC_KEY: controlPublicKey }).COLLECTORS_SCRAPERS).toBeUndefined();
    expect(loadConfig(collectorsEnvSchema, { HEADROOM_KEK: kek, HEADROOM_CONTROL_PUBLIC_KEY: controlPublicKey, COLLECTORS_SCRAPERS: ' ' }).COLLECTORS_SCRAPERS).toBeUndefined();
    const ok = loadConfig(collectorsEnvSchema, { HEADROOM_KEK: kek, HEADROOM_CONTROL_PUBLIC_KEY: controlPublicKey, COLLECTORS_SCRAPERS: JSON.stringify({ tenant: 'ops', scrapers: [{ type: 'host' }] }) });
    expect(ok.COLLECTORS_SCRAPERS).toMatchObject({ tenant: 'ops', intervalMs: 15000, scrapers: [{ name: 'host' }] });
    let error: unknown;
    try {
      loadConfig(collectorsEnvSchema, { HEADROOM_KEK: kek, HEADROOM_CONTROL_PUBLIC_KEY: controlPublicKey, PORT: 'x', COLLECTORS_SCRAPERS: JSON.stringify({ tenant: 'ops', scrapers: [{ type: 'redis', url: 'x' }, { type: 'http_probe' }] }) });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.map((p) => p.key).sort()).toEqual(['COLLECTORS_SCRAPERS.scrapers.0.url', 'COLLECTORS_SCRAPERS.scrapers.1.targets', 'PORT']);
  });
});
