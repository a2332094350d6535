/**
 * The client's TLS and SASL settings against a real secured broker: a second, separate Kafka 3.9.1
 * (the jars `infra:up` fetched into the user cache) on free loopback ports, with its own data dir
 * under tmp/, never the shared broker on 9092. Listeners: SASL_PLAINTEXT (PLAIN, SCRAM-SHA-256,
 * SCRAM-SHA-512 users), SASL_SSL (PLAIN) and SSL requiring a client certificate, with a throw-away
 * CA made by openssl. The settings go the way a service's do: KAFKA_* variables → loadConfig →
 * kafkaTargetFromConfig / kafkaConnectionFromConfig → ensureTopics, waitForBroker, createKafkaClient;
 * `tools/infra/cli.ts topics` (the deployment Job) with the same variables; and collectors as a process
 * joining over SASL_SSL + SCRAM-SHA-512 (ready, clean stop), or refusing broken settings at boot.
 * The broker itself: ./secured-broker.ts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { allTopics, type TopicSpec } from '@headroom/contracts';
import { ConfigError, kafkaConnectionFromConfig, kafkaEnvSchema, kafkaTargetFromConfig, loadConfig } from '@headroom/config';
import { createKafkaClient, describeTopics, ensureTopics, waitForBroker, type KafkaLogger, type KafkaTarget } from '@headroom/kafka';
import { controlTrust, ServiceProcess } from '@headroom/testing';
import { HOST, SecuredBroker, freePort, runCli, runNode } from './secured-broker';

const root = path.resolve(__dirname, '..', '..');
const PLAIN_PASSWORD = 'plain-pw-7c1e9a0b';
const SCRAM256_PASSWORD = 'scram256-pw-52d8f1';
const SCRAM512_PASSWORD = 'scram512-pw-a93b07';
const WRONG_PASSWORD = 'wrong-pw-0d6e44c2';
const SECRETS = [PLAIN_PASSWORD, SCRAM256_PASSWORD, SCRAM512_PASSWORD, WRONG_PASSWORD];

const broker = new SecuredBroker({
  name: 'kafka-security-int',
  tls: true,
  plainUsers: { admin: 'admin-pw', headroom: PLAIN_PASSWORD },
  scramUsers: [
    { mechanism: 'SCRAM-SHA-256', name: 'headroom256', password: SCRAM256_PASSWORD },
    { mechanism: 'SCRAM-SHA-512', name: 'headroom512', password: SCRAM512_PASSWORD },
  ],
});
const { dir, ports } = broker;
const file = (name: string, content: string): string => broker.file(name, content);

function capturingLogger(): KafkaLogger & { lines: string[] } {
  const lines: string[] = [];
  const log = (obj: object, msg?: string) => void lines.push(`${msg ?? ''} ${JSON.stringify(obj)}`);
  return { lines, info: log, warn: log, error: log, debug: log };
}

/** Settings the way a service gets them: environment → loadConfig (validated) → target. */
function targetFromEnv(env: Record<string, string>): KafkaTarget {
  return kafkaTargetFromConfig(loadConfig(kafkaEnvSchema, env));
}

const spec = (name: string): TopicSpec => ({
  name: `security-spec-${name}-${process.pid}`,
  partitions: 1,
  maxMessageBytes: 1048576,
  config: { 'retention.ms': '600000' },
  description: 'kafka-security.int-spec',
});

jest.setTimeout(120_000);

// The broker answers once its controller is elected (PLAIN as admin: the inter-broker user).
beforeAll(() => broker.start(), 180_000);

afterAll(() => broker.stop());

describe('SASL_PLAINTEXT', () => {
  it.each([
    ['PLAIN', 'headroom', { KAFKA_SASL_PASSWORD: PLAIN_PASSWORD }],
    ['SCRAM-SHA-256', 'headroom256', { KAFKA_SASL_PASSWORD_FILE: '' }],
    ['SCRAM-SHA-512', 'headroom512', { KAFKA_SASL_PASSWORD_FILE: '' }],
  ])('%s: ensureTopics creates a topic, a service-built client produces to it', async (mechanism, username, password) => {
    const passwordVars: Record<string, string> = { ...password };
    if ('KAFKA_SASL_PASSWORD_FILE' in passwordVars) {
      // From a mounted secret file, with the trailing newline such files often end with.
      passwordVars.KAFKA_SASL_PASSWORD_FILE = file(`${username}.password`, `${mechanism === 'SCRAM-SHA-256' ? SCRAM256_PASSWORD : SCRAM512_PASSWORD}\n`);
    }
    const env = { KAFKA_BROKERS: `${HOST}:${ports.sasl}`, KAFKA_SECURITY_PROTOCOL: 'SASL_PLAINTEXT', KAFKA_SASL_MECHANISM: mechanism, KAFKA_SASL_USERNAME: username, ...passwordVars };
    const topic = spec(mechanism.toLowerCase());
    const target = targetFromEnv(env);
    const result = await ensureTopics(target, [topic], { timeoutMs: 30_000 });
    expect(result.created).toEqual([topic.name]);

    const logger = capturingLogger();
    const kafka = createKafkaClient({ ...kafkaConnectionFromConfig(loadConfig(kafkaEnvSchema, env), 'security-spec'), logger });
    const producer = kafka.producer();
    await producer.connect();
    try {
      await producer.send({ topic: topic.name, messages: [{ key: 'k', value: 'v' }] });
    } finally {
      await producer.disconnect();
    }
    const [described] = await describeTopics(target, [topic.name]);
    expect(described?.partitions).toBe(1);
    const admin = kafka.admin();
    await admin.connect();
    try {
      expect(await admin.fetchTopicOffsets(topic.name)).toEqual([expect.objectContaining({ partition: 0, high: '1' })]);
    } finally {
      await admin.disconnect();
    }
    expect(logger.lines.join('\n')).not.toMatch(new RegExp(SECRETS.join('|')));
  });

  it('a wrong password is refused at once, and neither the error nor the log lines hold it', async () => {
    const env = { KAFKA_BROKERS: `${HOST}:${ports.sasl}`, KAFKA_SECURITY_PROTOCOL: 'SASL_PLAINTEXT', KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'headroom512', KAFKA_SASL_PASSWORD: WRONG_PASSWORD };
    const started = Date.now();
    const waited = await waitForBroker(targetFromEnv(env), 60_000).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(waited?.message).toMatch(/refused the credentials.*authentication failed/i);
    expect(waited?.message).toContain('(SASL_PLAINTEXT scram-sha-512 as headroom512)');
    expect(Date.now() - started).toBeLessThan(30_000);

    const logger = capturingLogger();
    const kafka = createKafkaClient({ ...kafkaConnectionFromConfig(loadConfig(kafkaEnvSchema, { ...env, KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'headroom' }), 'security-spec'), logger });
    const producer = kafka.producer({ retry: { retries: 0 } });
    const failed = await producer.connect().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    await producer.disconnect();
    expect(failed?.message).toMatch(/SASL PLAIN authentication failed/i);
    for (const text of [waited?.message, waited?.stack, failed?.message, failed?.stack, JSON.stringify(failed), logger.lines.join('\n')]) {
      expect(text ?? '').not.toMatch(new RegExp(SECRETS.join('|')));
    }
  });
});

describe('TLS', () => {
  it('SASL_SSL: the broker verified against the CA file, PLAIN over TLS', async () => {
    const target = targetFromEnv({
      KAFKA_BROKERS: `${HOST}:${ports.saslSsl}`,
      KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
      KAFKA_SASL_MECHANISM: 'PLAIN',
      KAFKA_SASL_USERNAME: 'headroom',
      KAFKA_SASL_PASSWORD: PLAIN_PASSWORD,
      KAFKA_TLS_CA_FILE: path.join(dir, 'ca.crt'),
    });
    const topic = spec('sasl-ssl');
    expect((await ensureTopics(target, [topic], { timeoutMs: 30_000 })).created).toEqual([topic.name]);
  });

  it('SASL_SSL without the CA: the self-signed broker is not trusted (unless verification is turned off)', async () => {
    const env = { KAFKA_BROKERS: `${HOST}:${ports.saslSsl}`, KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'headroom', KAFKA_SASL_PASSWORD: PLAIN_PASSWORD };
    await expect(waitForBroker(targetFromEnv(env), 3_000)).rejects.toThrow(/did not answer.*(certificate|self.signed)/i);
    await expect(waitForBroker(targetFromEnv({ ...env, KAFKA_TLS_REJECT_UNAUTHORIZED: 'false' }), 30_000)).resolves.toBeUndefined();
  });

  it('SSL with a client certificate (mutual TLS): without it the broker closes the connection', async () => {
    const env = { KAFKA_BROKERS: `${HOST}:${ports.ssl}`, KAFKA_SECURITY_PROTOCOL: 'SSL', KAFKA_TLS_CA_FILE: path.join(dir, 'ca.crt') };
    const topic = spec('mtls');
    const withCert = targetFromEnv({ ...env, KAFKA_TLS_CERT_FILE: path.join(dir, 'client.crt'), KAFKA_TLS_KEY_FILE: path.join(dir, 'client.key') });
    expect((await ensureTopics(withCert, [topic], { timeoutMs: 30_000 })).created).toEqual([topic.name]);
    await expect(waitForBroker(targetFromEnv(env), 3_000)).rejects.toThrow(/did not answer/);
  });
});

describe('tools/infra/cli.ts topics (the deployment Job) with the KAFKA_* settings', () => {
  it('creates every registry topic on the secured cluster', async () => {
    const { code, output } = await runCli(['topics'], {
      KAFKA_BROKERS: `${HOST}:${ports.sasl}`,
      KAFKA_SECURITY_PROTOCOL: 'SASL_PLAINTEXT',
      KAFKA_SASL_MECHANISM: 'SCRAM-SHA-256',
      KAFKA_SASL_USERNAME: 'headroom256',
      KAFKA_SASL_PASSWORD_FILE: file('job.password', SCRAM256_PASSWORD),
    });
    expect({ code, output }).toEqual({ code: 0, output: expect.stringMatching(/topics: created/) });
    const described = await describeTopics(
      targetFromEnv({ KAFKA_BROKERS: `${HOST}:${ports.sasl}`, KAFKA_SECURITY_PROTOCOL: 'SASL_PLAINTEXT', KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'headroom', KAFKA_SASL_PASSWORD: PLAIN_PASSWORD }),
      allTopics.map((t) => t.name),
    );
    expect(described.map((d) => d.name).sort()).toEqual(allTopics.map((t) => t.name).sort());
  });

  it('stops before connecting when the settings are wrong, every problem with its key, no password', async () => {
    const { code, output } = await runCli(['topics'], {
      KAFKA_BROKERS: `${HOST}:${ports.sasl}`,
      KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
      KAFKA_SASL_PASSWORD: WRONG_PASSWORD,
      KAFKA_TLS_KEY_FILE: path.join(dir, 'client.key'),
    });
    expect(code).toBe(1);
    expect(output).toMatch(/KAFKA_SASL_MECHANISM: is required/);
    expect(output).toMatch(/KAFKA_SASL_USERNAME: is required/);
    expect(output).toMatch(/KAFKA_TLS_KEY_FILE: needs KAFKA_TLS_CERT_FILE/);
    expect(output).not.toContain(WRONG_PASSWORD);
  });

  it('loadConfig refuses the same settings in-process (ConfigError)', () => {
    expect(() => loadConfig(kafkaEnvSchema, { KAFKA_SECURITY_PROTOCOL: 'SASL_SSL' })).toThrow(ConfigError);
  });
});

describe('a service joins the secured cluster (after the registry topics above)', () => {
  const kek = Buffer.alloc(32, 9).toString('base64');
  const secured = () => ({
    HEADROOM_KEK: kek,
    ...controlTrust().env,
    LOG_LEVEL: 'info',
    KAFKA_BROKERS: `${HOST}:${ports.saslSsl}`,
    KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
    KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
    KAFKA_SASL_USERNAME_FILE: file('svc.username', 'headroom512\n'),
    KAFKA_SASL_PASSWORD_FILE: file('svc.password', `${SCRAM512_PASSWORD}\n`),
    KAFKA_TLS_CA_FILE: path.join(dir, 'ca.crt'),
    KAFKA_CLIENT_ID_PREFIX: 'spec',
  });

  it('collectors over SASL_SSL + SCRAM-SHA-512 from mounted-style files: ready, logs how it connects, never the password, stops cleanly', async () => {
    const collectors = new ServiceProcess('collectors', await freePort(), secured(), `collectors-kafka-security-${process.pid}`, dir);
    try {
      await collectors.start(90_000);
    } catch (err) {
      await collectors.kill();
      throw err;
    }
    expect(await collectors.stop()).toBe(0);
    const log = fs.readFileSync(collectors.logFile, 'utf8');
    expect(log).toContain(`"kafka":"${HOST}:${ports.saslSsl} (SASL_SSL scram-sha-512 as headroom512)","clientId":"spec-collectors"`);
    expect(log).not.toMatch(new RegExp(SECRETS.join('|')));
  });

  it('collectors with broken settings exits at boot, every problem with its key, no password', async () => {
    const env = { ...secured(), KAFKA_SASL_MECHANISM: '', KAFKA_SASL_PASSWORD: SCRAM512_PASSWORD, KAFKA_TLS_CA_FILE: path.join(dir, 'missing-ca.crt') };
    const { code, output: log } = await runNode([path.join(root, 'apps/collectors/src/main.ts')], { ...env, PORT: String(await freePort()) });
    expect(code).toBe(1);
    expect(log).toContain('collectors failed to start: invalid configuration:');
    expect(log).toMatch(/KAFKA_SASL_MECHANISM: is required with KAFKA_SECURITY_PROTOCOL=SASL_SSL/);
    expect(log).toMatch(/KAFKA_SASL_PASSWORD_FILE: set either KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE, not both/);
    expect(log).toMatch(/KAFKA_TLS_CA_FILE: \S*missing-ca\.crt does not exist/);
    expect(log).not.toMatch(new RegExp(SECRETS.join('|')));
  });
});
