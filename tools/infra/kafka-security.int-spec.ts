/**
 * The client's TLS and SASL settings against a real secured broker: a second, separate Kafka 3.9.1
 * (the jars `infra:up` fetched into the user cache) on free loopback ports, with its own data dir
 * under tmp/, never the shared broker on 9092. Listeners: SASL_PLAINTEXT (PLAIN, SCRAM-SHA-256,
 * SCRAM-SHA-512 users), SASL_SSL (PLAIN) and SSL requiring a client certificate, with a throw-away
 * CA made by openssl. The settings go the way a service's do: KAFKA_* variables → loadConfig →
 * kafkaTargetFromConfig / kafkaConnectionFromConfig → ensureTopics, waitForBroker, createKafkaClient;
 * `tools/infra/cli.ts topics` (the deployment Job) with the same variables; and collectors as a process
 * joining over SASL_SSL + SCRAM-SHA-512 (ready, clean stop), or refusing broken settings at boot.
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { allTopics, type TopicSpec } from '@headroom/contracts';
import { ConfigError, kafkaConnectionFromConfig, kafkaEnvSchema, kafkaTargetFromConfig, loadConfig } from '@headroom/config';
import { createKafkaClient, describeTopics, ensureTopics, waitForBroker, type KafkaLogger, type KafkaTarget } from '@headroom/kafka';
import { ServiceProcess } from '@headroom/testing';
import { createContext } from './context';
import { isPidAlive, spawnDetached, stopPid, waitForPort } from './process';

const root = path.resolve(__dirname, '..', '..');
const HOST = '127.0.0.1';
const KAFKA_VERSION = '3.9.1';
const PLAIN_PASSWORD = 'plain-pw-7c1e9a0b';
const SCRAM256_PASSWORD = 'scram256-pw-52d8f1';
const SCRAM512_PASSWORD = 'scram512-pw-a93b07';
const WRONG_PASSWORD = 'wrong-pw-0d6e44c2';
const SECRETS = [PLAIN_PASSWORD, SCRAM256_PASSWORD, SCRAM512_PASSWORD, WRONG_PASSWORD];

const dir = path.join(root, 'tmp', 'kafka-security-int', String(process.pid));
const libs = path.join(createContext().cacheDir, `kafka-${KAFKA_VERSION}`, 'libs');
let pid: number | undefined;
const ports = { sasl: 0, saslSsl: 0, ssl: 0, controller: 0 };

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const file = (name: string, content: string): string => {
  const p = path.join(dir, name);
  fs.writeFileSync(p, content);
  return p;
};
const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });

/** A CA, a server certificate for 127.0.0.1/localhost and a client certificate, all PEM (keys PKCS#8). */
function makeCertificates(): void {
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=headroom-spec-ca');
  file('server.ext', 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  file('client.ext', 'extendedKeyUsage=clientAuth\n');
  for (const [name, cn] of [
    ['server', 'localhost'],
    ['client', 'headroom-client'],
  ]) {
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`);
  }
  // Kafka's PEM key store: the certificate chain and the unencrypted PKCS#8 key in one file.
  file('server.pem', fs.readFileSync(path.join(dir, 'server.key'), 'utf8') + fs.readFileSync(path.join(dir, 'server.crt'), 'utf8'));
}

function serverProperties(): string {
  const jaasPlain = `org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-pw" user_admin="admin-pw" user_headroom="${PLAIN_PASSWORD}";`;
  const jaasScram = 'org.apache.kafka.common.security.scram.ScramLoginModule required;';
  return `process.roles=broker,controller
node.id=1
controller.quorum.voters=1@${HOST}:${ports.controller}
listeners=SASL_PLAINTEXT://${HOST}:${ports.sasl},SASL_SSL://${HOST}:${ports.saslSsl},SSL://${HOST}:${ports.ssl},CONTROLLER://${HOST}:${ports.controller}
advertised.listeners=SASL_PLAINTEXT://${HOST}:${ports.sasl},SASL_SSL://${HOST}:${ports.saslSsl},SSL://${HOST}:${ports.ssl}
controller.listener.names=CONTROLLER
inter.broker.listener.name=SASL_PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=PLAIN
listener.name.sasl_plaintext.plain.sasl.jaas.config=${jaasPlain}
listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=${jaasScram}
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=${jaasScram}
listener.name.sasl_ssl.plain.sasl.jaas.config=${jaasPlain}
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=${jaasScram}
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=${jaasScram}
ssl.keystore.type=PEM
ssl.keystore.location=${path.join(dir, 'server.pem')}
ssl.truststore.type=PEM
ssl.truststore.location=${path.join(dir, 'ca.crt')}
listener.name.ssl.ssl.client.auth=required
log.dirs=${path.join(dir, 'logs')}
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
auto.create.topics.enable=false
group.initial.rebalance.delay.ms=0
num.network.threads=1
num.io.threads=2
num.recovery.threads.per.data.dir=1
background.threads=2
`;
}

const log4j = `log4j.rootLogger=WARN, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=${path.join(dir, 'kafka.log')}
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaServer=INFO
log4j.logger.kafka.server.BrokerServer=INFO
`;

async function startBroker(): Promise<void> {
  if (!fs.existsSync(path.join(libs, '.complete'))) throw new Error(`Kafka jars missing in ${libs}: run npm run infra:up first`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(path.join(dir, 'logs'), { recursive: true });
  for (const k of Object.keys(ports) as (keyof typeof ports)[]) ports[k] = await freePort();
  makeCertificates();
  const properties = file('server.properties', serverProperties());
  const log4jFile = file('log4j.properties', log4j);
  const java = ['-Xms128m', '-Xmx384m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', `-Dlog4j.configuration=file:${log4jFile}`, `-Dkafka.logs.dir=${dir}`, '-cp', `${libs}/*`];
  // SCRAM users exist from the start (KRaft: written into the bootstrap metadata by format).
  execFileSync(
    'java',
    [
      ...java,
      'kafka.tools.StorageTool',
      'format',
      '-t',
      'c2VjdXJpdHktc3BlYy0wMQ',
      '-c',
      properties,
      '--add-scram',
      `SCRAM-SHA-256=[name=headroom256,password=${SCRAM256_PASSWORD}]`,
      '--add-scram',
      `SCRAM-SHA-512=[name=headroom512,password=${SCRAM512_PASSWORD}]`,
    ],
    { cwd: dir, stdio: 'pipe' },
  );
  pid = spawnDetached('java', [...java, 'kafka.Kafka', properties], { cwd: dir, logFile: path.join(dir, 'kafka.out') });
  const port = await waitForPort(HOST, ports.sasl, 90_000, () => isPidAlive(pid!));
  if (port !== 'open') {
    const tail = (f: string) => (fs.existsSync(path.join(dir, f)) ? fs.readFileSync(path.join(dir, f), 'utf8').split('\n').filter((l) => /ERROR|Exception|Caused by/.test(l)).slice(0, 8).join('\n') : '');
    throw new Error(`the spec's broker ${port === 'died' ? 'exited' : 'did not listen'}:\n${tail('kafka.out')}\n${tail('kafka.log')}`);
  }
}

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

function runCli(args: string[], env: Record<string, string>): Promise<{ code: number; output: string }> {
  return runNode([path.join(root, 'tools/infra/cli.ts'), ...args], env);
}

/** A TypeScript entry point as its own process with only `env` (plus PATH, HOME): exit code and output. */
function runNode(args: string[], env: Record<string, string>): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-r', '@swc-node/register', ...args], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, output }));
  });
}

jest.setTimeout(120_000);

beforeAll(async () => {
  await startBroker();
  // The broker answers once its controller is elected (PLAIN as admin: the inter-broker user).
  await waitForBroker({ brokers: [`${HOST}:${ports.sasl}`], security: { protocol: 'SASL_PLAINTEXT', sasl: { mechanism: 'plain', username: 'admin', password: 'admin-pw' } } }, 90_000);
}, 180_000);

afterAll(async () => {
  if (pid !== undefined) await stopPid(pid, 20_000);
  fs.rmSync(dir, { recursive: true, force: true });
});

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
