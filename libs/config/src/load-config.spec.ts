import { generateKeyPairSync } from 'node:crypto';
import { z } from 'zod';
import { baseEnvSchema, ConfigError, loadConfig, portEnv } from './load-config';

const controlPublicKey = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' }).toString('base64');

const schema = baseEnvSchema.merge(portEnv(4010));
const kek = Buffer.alloc(32, 7).toString('base64');

describe('loadConfig', () => {
  it('applies defaults that point at the local stack', () => {
    const cfg = loadConfig(schema, { HEADROOM_KEK: kek, HEADROOM_CONTROL_PUBLIC_KEY: controlPublicKey });
    expect(cfg.KAFKA_BROKERS).toEqual(['127.0.0.1:9092']);
    expect(cfg.PORT).toBe(4010);
  });

  it('reports every problem at once, each with its key', () => {
    let error: unknown;
    try {
      loadConfig(schema, { KAFKA_BROKERS: 'not a broker', PORT: '99999', HEADROOM_KEK: 'c2hvcnQ=', HEADROOM_CONTROL_PUBLIC_KEY: `${controlPublicKey},c2hvcnQ=` });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const keys = (error as ConfigError).problems.map((p) => p.key).sort();
    expect(keys).toEqual(['HEADROOM_CONTROL_PUBLIC_KEY', 'HEADROOM_KEK', 'KAFKA_BROKERS', 'PORT']);
    expect((error as ConfigError).problems.find((p) => p.key === 'HEADROOM_CONTROL_PUBLIC_KEY')?.message).toMatch(/Ed25519 public key/);
    expect((error as ConfigError).message).toContain('KAFKA_BROKERS');
  });

  it('never echoes a secret value in its error', () => {
    const secret = 'dGhpcyBpcyBub3QgMzIgYnl0ZXMgbG9uZw==';
    try {
      loadConfig(z.object({ HEADROOM_KEK: baseEnvSchema.shape.HEADROOM_KEK }), { HEADROOM_KEK: secret });
      throw new Error('expected a ConfigError');
    } catch (e) {
      expect((e as Error).message).not.toContain(secret);
    }
  });

  it('takes a previous KEK during a KEK rotation only with its own id', () => {
    const previous = Buffer.alloc(32, 9).toString('base64');
    const base = { HEADROOM_KEK: kek, HEADROOM_KEK_ID: 'kek-2', HEADROOM_CONTROL_PUBLIC_KEY: controlPublicKey };
    expect(loadConfig(schema, { ...base, HEADROOM_KEK_PREVIOUS: previous, HEADROOM_KEK_PREVIOUS_ID: 'kek-1' })).toMatchObject({ HEADROOM_KEK_PREVIOUS: previous, HEADROOM_KEK_PREVIOUS_ID: 'kek-1' });
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig(schema, { ...base, ...env });
        return [];
      } catch (e) {
        return (e as ConfigError).problems.map((p) => p.key);
      }
    };
    expect(problems({ HEADROOM_KEK_PREVIOUS: previous })).toEqual(['HEADROOM_KEK_PREVIOUS_ID']);
    expect(problems({ HEADROOM_KEK_PREVIOUS: previous, HEADROOM_KEK_PREVIOUS_ID: 'kek-2' })).toEqual(['HEADROOM_KEK_PREVIOUS_ID']);
    expect(problems({ HEADROOM_KEK_PREVIOUS_ID: 'kek-1' })).toEqual(['HEADROOM_KEK_PREVIOUS']);
  });
});
