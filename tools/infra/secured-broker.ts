/**
 * For integration specs: a second, separate Kafka 3.9.1 (the jars `infra:up` fetched into the user
 * cache) on free loopback ports with its own data dir under tmp/, never the shared broker on 9092.
 * Always a SASL_PLAINTEXT listener (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512); with `tls`, also SASL_SSL
 * (same mechanisms) and SSL requiring a client certificate, with a throw-away CA made by openssl;
 * with `authorizer`, KRaft's StandardAuthorizer denying whatever no ACL allows. SCRAM users are
 * written into the bootstrap metadata at format time, so they exist from the first start.
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { waitForBroker, type KafkaTarget } from '@headroom/kafka';
import { createContext } from './context';
import { isPidAlive, spawnDetached, stopPid, waitForPort } from './process';

export const HOST = '127.0.0.1';
const KAFKA_VERSION = '3.9.1';
const root = path.resolve(__dirname, '..', '..');

export interface ScramUser {
  readonly mechanism: 'SCRAM-SHA-256' | 'SCRAM-SHA-512';
  readonly name: string;
  readonly password: string;
}

export interface SecuredBrokerOptions {
  /** The data dir is tmp/<name>/<pid>. */
  readonly name: string;
  /** PLAIN users; `admin` is required: the broker's own (inter-broker and controller) user. */
  readonly plainUsers: Readonly<Record<string, string>>;
  readonly scramUsers?: readonly ScramUser[];
  readonly tls?: boolean;
  /** Principals allowed everything (`User:admin`); everyone else only what an ACL allows. */
  readonly authorizer?: { readonly superUsers: readonly string[] };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** A TypeScript entry point as its own process with only `env` (plus PATH, HOME): exit code and output. */
export function runNode(args: string[], env: Record<string, string>): Promise<{ code: number; output: string }> {
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

/** `tools/infra/cli.ts <args>` as the deployment Job runs it. */
export function runCli(args: string[], env: Record<string, string>): Promise<{ code: number; output: string }> {
  return runNode([path.join(root, 'tools/infra/cli.ts'), ...args], env);
}

export class SecuredBroker {
  readonly dir: string;
  readonly ports = { sasl: 0, saslSsl: 0, ssl: 0, controller: 0 };
  private readonly libs = path.join(createContext().cacheDir, `kafka-${KAFKA_VERSION}`, 'libs');
  private pid: number | undefined;

  constructor(private readonly opts: SecuredBrokerOptions) {
    if (!opts.plainUsers.admin) throw new Error('SecuredBroker needs a PLAIN admin user (the broker’s own)');
    this.dir = path.join(root, 'tmp', opts.name, String(process.pid));
  }

  /** The SASL_PLAINTEXT listener, `host:port`. */
  get saslBrokers(): string {
    return `${HOST}:${this.ports.sasl}`;
  }

  /** The broker's own user over SASL_PLAINTEXT (PLAIN): a super user when there is an authorizer. */
  get adminTarget(): KafkaTarget {
    return { brokers: [this.saslBrokers], security: { protocol: 'SASL_PLAINTEXT', sasl: { mechanism: 'plain', username: 'admin', password: this.opts.plainUsers.admin! } } };
  }

  /** Writes `content` into the broker's dir; returns its path. */
  file(name: string, content: string): string {
    const p = path.join(this.dir, name);
    fs.writeFileSync(p, content);
    return p;
  }

  /** Starts the broker and waits until its controller is elected (as admin). */
  async start(timeoutMs = 90_000): Promise<void> {
    if (!fs.existsSync(path.join(this.libs, '.complete'))) throw new Error(`Kafka jars missing in ${this.libs}: run npm run infra:up first`);
    fs.rmSync(this.dir, { recursive: true, force: true });
    fs.mkdirSync(path.join(this.dir, 'logs'), { recursive: true });
    for (const k of Object.keys(this.ports) as (keyof typeof this.ports)[]) this.ports[k] = await freePort();
    if (this.opts.tls) this.makeCertificates();
    const properties = this.file('server.properties', this.serverProperties());
    const log4jFile = this.file('log4j.properties', this.log4j());
    const java = ['-Xms128m', '-Xmx384m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', `-Dlog4j.configuration=file:${log4jFile}`, `-Dkafka.logs.dir=${this.dir}`, '-cp', `${this.libs}/*`];
    const scram = (this.opts.scramUsers ?? []).flatMap((u) => ['--add-scram', `${u.mechanism}=[name=${u.name},password=${u.password}]`]);
    execFileSync('java', [...java, 'kafka.tools.StorageTool', 'format', '-t', 'c2VjdXJpdHktc3BlYy0wMQ', '-c', properties, ...scram], { cwd: this.dir, stdio: 'pipe' });
    this.pid = spawnDetached('java', [...java, 'kafka.Kafka', properties], { cwd: this.dir, logFile: path.join(this.dir, 'kafka.out') });
    const port = await waitForPort(HOST, this.ports.sasl, timeoutMs, () => isPidAlive(this.pid!));
    if (port !== 'open') {
      const tail = (f: string) =>
        fs.existsSync(path.join(this.dir, f))
          ? fs
              .readFileSync(path.join(this.dir, f), 'utf8')
              .split('\n')
              .filter((l) => /ERROR|Exception|Caused by/.test(l))
              .slice(0, 8)
              .join('\n')
          : '';
      throw new Error(`the spec's broker ${port === 'died' ? 'exited' : 'did not listen'}:\n${tail('kafka.out')}\n${tail('kafka.log')}`);
    }
    await waitForBroker(this.adminTarget, timeoutMs);
  }

  async stop(): Promise<void> {
    if (this.pid !== undefined) await stopPid(this.pid, 20_000);
    this.pid = undefined;
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  private openssl(...args: string[]): void {
    execFileSync('openssl', args, { cwd: this.dir, stdio: 'pipe' });
  }

  /** A CA, a server certificate for 127.0.0.1/localhost and a client certificate, all PEM (keys PKCS#8). */
  private makeCertificates(): void {
    this.openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=headroom-spec-ca');
    this.file('server.ext', 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
    this.file('client.ext', 'extendedKeyUsage=clientAuth\n');
    for (const [name, cn] of [
      ['server', 'localhost'],
      ['client', 'headroom-client'],
    ]) {
      this.openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
      this.openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`);
    }
    // Kafka's PEM key store: the certificate chain and the unencrypted PKCS#8 key in one file.
    this.file('server.pem', fs.readFileSync(path.join(this.dir, 'server.key'), 'utf8') + fs.readFileSync(path.join(this.dir, 'server.crt'), 'utf8'));
  }

  private serverProperties(): string {
    const { ports, dir, opts } = this;
    const users = Object.entries(opts.plainUsers)
      .map(([name, pw]) => `user_${name}="${pw}"`)
      .join(' ');
    const jaasPlain = `org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="${opts.plainUsers.admin}" ${users};`;
    const jaasScram = 'org.apache.kafka.common.security.scram.ScramLoginModule required;';
    const saslListeners = opts.tls ? ['sasl_plaintext', 'sasl_ssl'] : ['sasl_plaintext'];
    const listeners = [`SASL_PLAINTEXT://${HOST}:${ports.sasl}`, ...(opts.tls ? [`SASL_SSL://${HOST}:${ports.saslSsl}`, `SSL://${HOST}:${ports.ssl}`] : [])];
    const lines = [
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.voters=1@${HOST}:${ports.controller}`,
      `listeners=${[...listeners, `CONTROLLER://${HOST}:${ports.controller}`].join(',')}`,
      `advertised.listeners=${listeners.join(',')}`,
      'controller.listener.names=CONTROLLER',
      'inter.broker.listener.name=SASL_PLAINTEXT',
      'sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
      'sasl.mechanism.inter.broker.protocol=PLAIN',
      ...saslListeners.flatMap((l) => [
        `listener.name.${l}.plain.sasl.jaas.config=${jaasPlain}`,
        `listener.name.${l}.scram-sha-256.sasl.jaas.config=${jaasScram}`,
        `listener.name.${l}.scram-sha-512.sasl.jaas.config=${jaasScram}`,
      ]),
    ];
    if (opts.authorizer) {
      // The broker reaches its controller as admin too: over PLAINTEXT it would be User:ANONYMOUS,
      // which the authorizer refuses (or which would have to be a super user, as anyone on the port).
      lines.push(
        'listener.security.protocol.map=CONTROLLER:SASL_PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL',
        'sasl.mechanism.controller.protocol=PLAIN',
        'listener.name.controller.sasl.enabled.mechanisms=PLAIN',
        `listener.name.controller.plain.sasl.jaas.config=${jaasPlain}`,
        'authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer',
        `super.users=${opts.authorizer.superUsers.join(';')}`,
        'allow.everyone.if.no.acl.found=false',
      );
    } else {
      lines.push('listener.security.protocol.map=CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL');
    }
    if (opts.tls) {
      lines.push(
        'ssl.keystore.type=PEM',
        `ssl.keystore.location=${path.join(dir, 'server.pem')}`,
        'ssl.truststore.type=PEM',
        `ssl.truststore.location=${path.join(dir, 'ca.crt')}`,
        'listener.name.ssl.ssl.client.auth=required',
      );
    }
    lines.push(
      `log.dirs=${path.join(dir, 'logs')}`,
      'default.replication.factor=1',
      'min.insync.replicas=1',
      'offsets.topic.replication.factor=1',
      'offsets.topic.num.partitions=1',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      'transaction.state.log.num.partitions=1',
      'auto.create.topics.enable=false',
      'group.initial.rebalance.delay.ms=0',
      'num.network.threads=1',
      'num.io.threads=2',
      'num.recovery.threads.per.data.dir=1',
      'background.threads=2',
    );
    return `${lines.join('\n')}\n`;
  }

  private log4j(): string {
    return `log4j.rootLogger=WARN, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=${path.join(this.dir, 'kafka.log')}
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaServer=INFO
log4j.logger.kafka.server.BrokerServer=INFO
`;
  }
}
