import { generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { inspect } from 'node:util';
import { z } from 'zod';
import { kafkaConnectionFromConfig, kafkaEnvSchema, kafkaSecurityFromConfig, kafkaTargetFromConfig } from './kafka-env';
import { baseEnvSchema, ConfigError, loadConfig, portEnv } from './load-config';

const controlPublicKey = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' }).toString('base64');

const schema = baseEnvSchema.merge(portEnv(4010));
const kek = Buffer.alloc(32, 7).toString('base64');
const PASSWORD = 'pa55-w0rd-that-must-never-show';
const CERT = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const KEY = '-----BEGIN PRIVATE KEY-----\nMIIE-secret-key-material\n-----END PRIVATE KEY-----\n';

let dir: string;
const file = (name: string, content: string): string => {
  const p = path.join(dir, name);
  fs.writeFileSync(p, content);
  return p;
};

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kafka-env-spec-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function problems(env: Record<string, string | undefined>, s: z.ZodTypeAny = schema): ConfigError {
  try {
    loadConfig(s, env);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}
const keysOf = (e: ConfigError) => [...new Set(e.problems.map((p) => p.key))].sort();
const messageOf = (e: ConfigError, key: string) => e.problems.filter((p) => p.key === key).map((p) => p.message).join(' | ');

describe('Kafka settings in the base env schema', () => {
  it('without any new variable: PLAINTEXT to the local broker, the client built as before', () => {
    const cfg = loadConfig(schema, { HEADROOM_KEK: kek, HEADROOM_CONTROL_PUBLIC_KEY: controlPublicKey });
    expect(cfg.KAFKA_SECURITY_PROTOCOL).toBe('PLAINTEXT');
    expect(cfg.KAFKA_TLS_REJECT_UNAUTHORIZED).toBe(true);
    expect(kafkaSecurityFromConfig(cfg)).toBeUndefined();
    expect(kafkaConnectionFromConfig(cfg, 'collectors')).toEqual({ brokers: ['127.0.0.1:9092'], clientId: 'collectors' });
  });

  it('treats empty variables (as Helm and compose render them) as unset', () => {
    const empty = Object.fromEntries(Object.keys(kafkaEnvSchema.shape).filter((k) => k !== 'KAFKA_BROKERS').map((k) => [k, '']));
    const cfg = loadConfig(schema, { HEADROOM_KEK: kek, HEADROOM_CONTROL_PUBLIC_KEY: controlPublicKey, ...empty });
    expect(kafkaConnectionFromConfig(cfg, 'analytics')).toEqual({ brokers: ['127.0.0.1:9092'], clientId: 'analytics' });
  });

  it('SASL_SSL with files: credentials and TLS material read at boot, trailing newline dropped, Kafka-style names accepted', () => {
    const cfg = loadConfig(schema, {
      HEADROOM_KEK: kek, HEADROOM_CONTROL_PUBLIC_KEY: controlPublicKey,
      KAFKA_BROKERS: 'b-1.example:9096,b-2.example:9096',
      KAFKA_CLIENT_ID_PREFIX: 'headroom-prod',
      KAFKA_SECURITY_PROTOCOL: 'sasl_ssl',
      KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
      KAFKA_SASL_USERNAME_FILE: file('user', 'headroom\n'),
      KAFKA_SASL_PASSWORD_FILE: file('password', `${PASSWORD}\n`),
      KAFKA_TLS_CA_FILE: file('ca.crt', CERT),
      KAFKA_TLS_CERT_FILE: file('tls.crt', CERT),
      KAFKA_TLS_KEY_FILE: file('tls.key', KEY),
    });
    const conn = kafkaConnectionFromConfig(cfg, 'control');
    expect(conn.clientId).toBe('headroom-prod-control');
    expect(conn.brokers).toEqual(['b-1.example:9096', 'b-2.example:9096']);
    expect(conn.security?.protocol).toBe('SASL_SSL');
    expect(conn.security?.sasl).toMatchObject({ mechanism: 'scram-sha-512', username: 'headroom' });
    expect(conn.security?.sasl?.password).toBe(PASSWORD);
    expect(conn.security?.tls).toEqual({ rejectUnauthorized: true, ca: CERT, cert: CERT, key: KEY });
  });

  it('SASL_PLAINTEXT with the password in the environment; SSL with only a CA and verification off', () => {
    const sasl = loadConfig(schema, {
      HEADROOM_KEK: kek, HEADROOM_CONTROL_PUBLIC_KEY: controlPublicKey,
      KAFKA_SECURITY_PROTOCOL: 'SASL_PLAINTEXT',
      KAFKA_SASL_MECHANISM: 'plain',
      KAFKA_SASL_USERNAME: 'headroom',
      KAFKA_SASL_PASSWORD: PASSWORD,
    });
    expect(kafkaSecurityFromConfig(sasl)).toMatchObject({ protocol: 'SASL_PLAINTEXT', sasl: { mechanism: 'plain', username: 'headroom' } });
    expect(kafkaSecurityFromConfig(sasl)?.tls).toBeUndefined();

    const ssl = loadConfig(schema, { HEADROOM_KEK: kek, HEADROOM_CONTROL_PUBLIC_KEY: controlPublicKey, KAFKA_SECURITY_PROTOCOL: 'SSL', KAFKA_TLS_CA_FILE: file('ca2.crt', CERT), KAFKA_TLS_REJECT_UNAUTHORIZED: 'false' });
    expect(kafkaTargetFromConfig(ssl)).toEqual({ brokers: ['127.0.0.1:9092'], security: { protocol: 'SSL', tls: { rejectUnauthorized: false, ca: CERT } } });
  });

  it('reports every problem at once, each with its key, together with the other variables', () => {
    const e = problems({
      // HEADROOM_KEK and HEADROOM_CONTROL_PUBLIC_KEY missing: field errors; the cross-variable rules still run.
      KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
      KAFKA_TLS_CA_FILE: path.join(dir, 'no-such-ca.crt'),
      KAFKA_TLS_KEY_FILE: file('only.key', KEY),
      KAFKA_TLS_REJECT_UNAUTHORIZED: 'maybe',
    });
    expect(keysOf(e)).toEqual([
      'HEADROOM_CONTROL_PUBLIC_KEY',
      'HEADROOM_KEK',
      'KAFKA_SASL_MECHANISM',
      'KAFKA_SASL_PASSWORD',
      'KAFKA_SASL_USERNAME',
      'KAFKA_TLS_CA_FILE',
      'KAFKA_TLS_KEY_FILE',
      'KAFKA_TLS_REJECT_UNAUTHORIZED',
    ]);
    expect(messageOf(e, 'KAFKA_SASL_MECHANISM')).toMatch(/required with KAFKA_SECURITY_PROTOCOL=SASL_SSL.*plain, scram-sha-256, scram-sha-512/);
    expect(messageOf(e, 'KAFKA_SASL_USERNAME')).toMatch(/required.*KAFKA_SASL_USERNAME_FILE/);
    expect(messageOf(e, 'KAFKA_TLS_CA_FILE')).toMatch(/no-such-ca\.crt does not exist/);
    expect(messageOf(e, 'KAFKA_TLS_KEY_FILE')).toMatch(/needs KAFKA_TLS_CERT_FILE/);
    expect(messageOf(e, 'KAFKA_TLS_REJECT_UNAUTHORIZED')).toBe('must be true or false');
    // One line per problem, key first, as every other boot error.
    expect(e.message).toContain('  KAFKA_SASL_PASSWORD: is required with KAFKA_SECURITY_PROTOCOL=SASL_SSL');
  });

  it('refuses SASL settings with a protocol without SASL, and TLS settings with one without TLS', () => {
    const plaintext = problems({ HEADROOM_KEK: kek, HEADROOM_CONTROL_PUBLIC_KEY: controlPublicKey, KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: PASSWORD, KAFKA_TLS_CA_FILE: file('ca3.crt', CERT) });
    expect(keysOf(plaintext)).toEqual(['KAFKA_SASL_MECHANISM', 'KAFKA_SASL_PASSWORD', 'KAFKA_SASL_USERNAME', 'KAFKA_TLS_CA_FILE']);
    expect(messageOf(plaintext, 'KAFKA_SASL_MECHANISM')).toMatch(/KAFKA_SECURITY_PROTOCOL=PLAINTEXT does not use SASL/);
    expect(messageOf(plaintext, 'KAFKA_TLS_CA_FILE')).toMatch(/KAFKA_SECURITY_PROTOCOL=PLAINTEXT does not use TLS/);

    const ssl = problems({ HEADROOM_KEK: kek, HEADROOM_CONTROL_PUBLIC_KEY: controlPublicKey, KAFKA_SECURITY_PROTOCOL: 'SSL', KAFKA_SASL_MECHANISM: 'scram-sha-256' });
    expect(keysOf(ssl)).toEqual(['KAFKA_SASL_MECHANISM']);

    const saslPlain = problems({
      HEADROOM_KEK: kek, HEADROOM_CONTROL_PUBLIC_KEY: controlPublicKey,
      KAFKA_SECURITY_PROTOCOL: 'SASL_PLAINTEXT',
      KAFKA_SASL_MECHANISM: 'plain',
      KAFKA_SASL_USERNAME: 'u',
      KAFKA_SASL_PASSWORD: PASSWORD,
      KAFKA_TLS_REJECT_UNAUTHORIZED: 'false',
    });
    expect(keysOf(saslPlain)).toEqual(['KAFKA_TLS_REJECT_UNAUTHORIZED']);
  });

  it('refuses unknown protocols and mechanisms, both a variable and its _FILE, a certificate without its key', () => {
    const e = problems({
      HEADROOM_KEK: kek, HEADROOM_CONTROL_PUBLIC_KEY: controlPublicKey,
      KAFKA_SECURITY_PROTOCOL: 'SASL_PLAINTEXT',
      KAFKA_SASL_MECHANISM: 'gssapi',
      KAFKA_SASL_USERNAME: 'u',
      KAFKA_SASL_USERNAME_FILE: file('u2', 'u'),
      KAFKA_SASL_PASSWORD: PASSWORD,
      KAFKA_SASL_PASSWORD_FILE: file('p2', PASSWORD),
      KAFKA_CLIENT_ID_PREFIX: 'has space',
    });
    expect(keysOf(e)).toEqual(['KAFKA_CLIENT_ID_PREFIX', 'KAFKA_SASL_MECHANISM', 'KAFKA_SASL_PASSWORD_FILE', 'KAFKA_SASL_USERNAME_FILE']);
    expect(messageOf(e, 'KAFKA_SASL_MECHANISM')).toBe('must be one of plain, scram-sha-256, scram-sha-512');
    expect(messageOf(e, 'KAFKA_SASL_PASSWORD_FILE')).toBe('set either KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE, not both');

    const protocol = problems({ HEADROOM_KEK: kek, HEADROOM_CONTROL_PUBLIC_KEY: controlPublicKey, KAFKA_SECURITY_PROTOCOL: 'TLS' });
    expect(protocol.problems).toEqual([{ key: 'KAFKA_SECURITY_PROTOCOL', message: 'must be one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL' }]);

    const cert = problems({ HEADROOM_KEK: kek, HEADROOM_CONTROL_PUBLIC_KEY: controlPublicKey, KAFKA_SECURITY_PROTOCOL: 'SSL', KAFKA_TLS_CERT_FILE: file('c.crt', CERT) });
    expect(cert.problems).toEqual([{ key: 'KAFKA_TLS_CERT_FILE', message: 'needs KAFKA_TLS_KEY_FILE: a client certificate without its key' }]);
  });

  it('checks each file: missing, a directory, empty secret, not the PEM it should be (without quoting it)', () => {
    const e = problems({
      HEADROOM_KEK: kek, HEADROOM_CONTROL_PUBLIC_KEY: controlPublicKey,
      KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
      KAFKA_SASL_MECHANISM: 'plain',
      KAFKA_SASL_USERNAME_FILE: dir,
      KAFKA_SASL_PASSWORD_FILE: file('empty-password', '\n'),
      KAFKA_TLS_CA_FILE: file('ca-is-a-key.pem', KEY),
      KAFKA_TLS_CERT_FILE: file('cert.pem', CERT),
      KAFKA_TLS_KEY_FILE: file('key-is-a-cert.pem', CERT),
    });
    expect(keysOf(e)).toEqual(['KAFKA_SASL_PASSWORD_FILE', 'KAFKA_SASL_USERNAME_FILE', 'KAFKA_TLS_CA_FILE', 'KAFKA_TLS_KEY_FILE']);
    expect(messageOf(e, 'KAFKA_SASL_USERNAME_FILE')).toBe(`${dir} is not a file`);
    expect(messageOf(e, 'KAFKA_SASL_PASSWORD_FILE')).toMatch(/empty-password is empty$/);
    expect(messageOf(e, 'KAFKA_TLS_CA_FILE')).toMatch(/ca-is-a-key\.pem holds no PEM certificate/);
    expect(messageOf(e, 'KAFKA_TLS_KEY_FILE')).toMatch(/key-is-a-cert\.pem holds no PEM private key/);
    expect(e.message).not.toContain('secret-key-material');

    const encrypted = problems({
      HEADROOM_KEK: kek, HEADROOM_CONTROL_PUBLIC_KEY: controlPublicKey,
      KAFKA_SECURITY_PROTOCOL: 'SSL',
      KAFKA_TLS_CERT_FILE: file('c2.crt', CERT),
      KAFKA_TLS_KEY_FILE: file('enc.key', '-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIF\n-----END ENCRYPTED PRIVATE KEY-----\n'),
    });
    expect(encrypted.problems).toEqual([{ key: 'KAFKA_TLS_KEY_FILE', message: expect.stringMatching(/enc\.key is encrypted: no passphrase is taken/) }]);
  });
});

describe('the SASL password stays secret', () => {
  const env = (extra: Record<string, string>) => ({ HEADROOM_KEK: kek, HEADROOM_CONTROL_PUBLIC_KEY: controlPublicKey, KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SASL_USERNAME: 'headroom', ...extra });

  it('is in no boot error, even when it lands in the wrong variable', () => {
    const errors = [
      // Everything else wrong.
      problems(env({ KAFKA_SASL_PASSWORD: PASSWORD, KAFKA_SASL_MECHANISM: 'nope', KAFKA_TLS_CA_FILE: '/nonexistent/ca', KAFKA_BROKERS: 'x' })),
      // Pasted into the mechanism, the protocol, the prefix, the boolean.
      problems(env({ KAFKA_SASL_MECHANISM: PASSWORD, KAFKA_SASL_PASSWORD: PASSWORD })),
      problems({ HEADROOM_KEK: kek, HEADROOM_CONTROL_PUBLIC_KEY: controlPublicKey, KAFKA_SECURITY_PROTOCOL: PASSWORD }),
      problems({ HEADROOM_KEK: kek, HEADROOM_CONTROL_PUBLIC_KEY: controlPublicKey, KAFKA_CLIENT_ID_PREFIX: `${PASSWORD} x`, KAFKA_TLS_REJECT_UNAUTHORIZED: PASSWORD }),
      // Both the variable and the file, with PLAINTEXT.
      problems({ HEADROOM_KEK: kek, HEADROOM_CONTROL_PUBLIC_KEY: controlPublicKey, KAFKA_SASL_PASSWORD: PASSWORD, KAFKA_SASL_PASSWORD_FILE: file('pw', PASSWORD) }),
    ];
    for (const e of errors) {
      expect(e.problems.length).toBeGreaterThan(0);
      expect(e.message).not.toContain(PASSWORD);
      expect(JSON.stringify(e.problems)).not.toContain(PASSWORD);
    }
  });

  it('is not in the connection settings as JSON, util.inspect or a spread copy (pino serialises them so)', () => {
    const cfg = loadConfig(schema, env({ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_PASSWORD_FILE: file('pw2', PASSWORD) }));
    const conn = kafkaConnectionFromConfig(cfg, 'alerting');
    expect(conn.security?.sasl?.password).toBe(PASSWORD);
    expect(JSON.stringify(conn)).not.toContain(PASSWORD);
    expect(inspect(conn, { depth: 10 })).not.toContain(PASSWORD);
    expect(JSON.stringify({ ...conn.security?.sasl })).not.toContain(PASSWORD);
    expect(JSON.stringify(conn)).toContain('"username":"headroom"');
  });
});
