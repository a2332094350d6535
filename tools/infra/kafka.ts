/**
 * Apache Kafka 3.9 (KRaft, single combined broker+controller node on loopback) from Maven Central
 * jars on the machine's JDK — no Docker, no tarball. With KAFKA_BROKERS set, that cluster is used.
 * 3.9 and not 4.x: kafkajs 2.2.4 speaks protocol versions that Kafka 4 removed.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { allTopics } from '@headroom/contracts';
import { ConfigError, kafkaEnvSchema, kafkaTargetFromConfig, loadConfig } from '@headroom/config';
import { describeKafkaTarget, ensureTopics, waitForBroker, type KafkaTarget } from '@headroom/kafka';
import { InfraContext, readState, updateState } from './context';
import {
  InfraError,
  aptInstall,
  hasCommand,
  isPidAlive,
  isPortOpen,
  pidCommandLine,
  runOrFail,
  spawnDetached,
  stopPid,
  waitForPort,
} from './process';

export const KAFKA_VERSION = '3.9.1';
export const DEFAULT_KAFKA_BROKERS = '127.0.0.1:9092';
const HOST = '127.0.0.1';
const BROKER_PORT = 9092;
const CONTROLLER_PORT = 9093;
const STEP = 'kafka';
const START_TIMEOUT_MS = 120_000;
const STOP_GRACE_MS = 30_000;

interface KafkaPaths {
  readonly pom: string;
  readonly libs: string;
  readonly dir: string;
  readonly logDirs: string;
  readonly properties: string;
  readonly log4j: string;
  readonly clusterIdFile: string;
  readonly pidFile: string;
  readonly out: string;
  readonly serverLog: string;
  readonly fetchLog: string;
}

function pathsOf(ctx: InfraContext): KafkaPaths {
  const dir = path.join(ctx.dataDir, 'kafka');
  return {
    pom: path.join(ctx.root, 'tools', 'kafka', 'pom.xml'),
    libs: path.join(ctx.cacheDir, `kafka-${KAFKA_VERSION}`, 'libs'),
    dir,
    logDirs: path.join(dir, 'logs'),
    properties: path.join(dir, 'server.properties'),
    log4j: path.join(dir, 'log4j.properties'),
    clusterIdFile: path.join(dir, 'cluster-id'),
    pidFile: path.join(dir, 'kafka.pid'),
    out: path.join(ctx.logDir, 'kafka.out'),
    serverLog: path.join(ctx.logDir, 'kafka-server.log'),
    fetchLog: path.join(ctx.logDir, 'kafka-fetch.log'),
  };
}

export function brokersFrom(value: string): string[] {
  return value
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b.length > 0);
}

/**
 * The cluster named by KAFKA_BROKERS with the same KAFKA_* security settings the services read
 * (validated the same way, every problem at once); `undefined` when KAFKA_BROKERS is unset: the
 * local PLAINTEXT broker, which security settings cannot apply to.
 */
export function externalKafka(ctx: InfraContext): KafkaTarget | undefined {
  let config;
  try {
    config = loadConfig(kafkaEnvSchema, ctx.env);
  } catch (err) {
    if (err instanceof ConfigError) throw new InfraError(`${STEP}: settings`, err.message);
    throw err;
  }
  if (!ctx.env.KAFKA_BROKERS) {
    if (config.KAFKA_SECURITY_PROTOCOL !== 'PLAINTEXT') {
      throw new InfraError(`${STEP}: settings`, `KAFKA_SECURITY_PROTOCOL=${config.KAFKA_SECURITY_PROTOCOL} needs KAFKA_BROKERS: the local broker (${DEFAULT_KAFKA_BROKERS}) is PLAINTEXT`);
    }
    return undefined;
  }
  return kafkaTargetFromConfig(config);
}

/** KAFKA_BROKERS with its security settings, or the local broker at `brokers`. */
export function kafkaTargetOf(ctx: InfraContext, brokers: string): KafkaTarget {
  return externalKafka(ctx) ?? { brokers: brokersFrom(brokers) };
}

/** Single node, loopback only, small footprint; settings a test suite needs to be quick. */
function serverProperties(p: KafkaPaths): string {
  return `# Written by tools/infra/kafka.ts on every infra:up — edit there, not here.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@${HOST}:${CONTROLLER_PORT}
listeners=PLAINTEXT://${HOST}:${BROKER_PORT},CONTROLLER://${HOST}:${CONTROLLER_PORT}
advertised.listeners=PLAINTEXT://${HOST}:${BROKER_PORT}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=${p.logDirs}

# One replica of everything.
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
# Fewer internal partitions: the first consumer group and transaction start faster.
offsets.topic.num.partitions=10
transaction.state.log.num.partitions=10

# Topics come from the registry (npm run infra:up / ensureTopics), never from a typo in a producer.
auto.create.topics.enable=false
num.partitions=1
group.initial.rebalance.delay.ms=0

# Retention and compaction work on test time scales (control topic is compacted).
log.retention.hours=168
log.retention.check.interval.ms=30000
log.segment.bytes=67108864
log.cleaner.enable=true
log.cleaner.threads=1
log.cleaner.backoff.ms=5000
log.cleaner.dedupe.buffer.size=16777216

# Two cores shared with others.
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
background.threads=4
`;
}

function log4jProperties(): string {
  // kafka.logs.dir is passed as a system property: every broker log lands in tmp/infra/logs.
  const appender = (name: string, file: string): string => `log4j.appender.${name}=org.apache.log4j.RollingFileAppender
log4j.appender.${name}.File=\${kafka.logs.dir}/${file}
log4j.appender.${name}.MaxFileSize=50MB
log4j.appender.${name}.MaxBackupIndex=2
log4j.appender.${name}.layout=org.apache.log4j.PatternLayout
log4j.appender.${name}.layout.ConversionPattern=[%d] %p %m (%c)%n
`;
  return `# Written by tools/infra/kafka.ts.
log4j.rootLogger=INFO, server
${appender('server', 'kafka-server.log')}
${appender('controller', 'kafka-controller.log')}
${appender('cleaner', 'kafka-cleaner.log')}
${appender('stateChange', 'kafka-state-change.log')}
log4j.logger.org.apache.kafka.controller=INFO, controller
log4j.additivity.org.apache.kafka.controller=false
log4j.logger.kafka.controller=INFO, controller
log4j.additivity.kafka.controller=false
log4j.logger.kafka.log.LogCleaner=INFO, cleaner
log4j.additivity.kafka.log.LogCleaner=false
log4j.logger.state.change.logger=INFO, stateChange
log4j.additivity.state.change.logger=false
log4j.logger.kafka.request.logger=WARN
log4j.logger.org.apache.kafka.raft=WARN
`;
}

/** Kafka's own cluster id format: 16 random bytes, URL-safe base64, not starting with '-'. */
function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

async function ensureJava(ctx: InfraContext, p: KafkaPaths): Promise<void> {
  const missing = [...(hasCommand('java') ? [] : ['openjdk-17-jre-headless']), ...(hasCommand('mvn') ? [] : ['maven'])];
  if (missing.length === 0) return;
  ctx.log(`kafka: installing ${missing.join(' ')} (apt-get)…`);
  await aptInstall(`${STEP}: install java/maven`, missing, p.fetchLog);
}

/** Gathers the broker's runtime jars once into the user cache (shared by every checkout). */
async function ensureLibs(ctx: InfraContext, p: KafkaPaths): Promise<void> {
  const marker = path.join(p.libs, '.complete');
  if (fs.existsSync(marker)) return;
  await ensureJava(ctx, p);
  const started = Date.now();
  ctx.log(`kafka: fetching Kafka ${KAFKA_VERSION} jars from Maven Central into ${p.libs}…`);
  // Into a sibling first, so an interrupted fetch never leaves a half-filled libs dir marked complete.
  const staging = `${p.libs}.partial-${process.pid}`;
  fs.rmSync(staging, { recursive: true, force: true });
  await runOrFail(
    `${STEP}: fetch jars (mvn)`,
    'mvn',
    ['-q', '-B', '-f', p.pom, 'dependency:copy-dependencies', `-DoutputDirectory=${staging}`, '-DincludeScope=runtime'],
    { cwd: ctx.root, logFile: p.fetchLog },
  );
  const jars = fs.readdirSync(staging).filter((f) => f.endsWith('.jar'));
  if (!jars.some((j) => j.startsWith(`kafka_2.13-${KAFKA_VERSION}`))) {
    throw new InfraError(`${STEP}: fetch jars (mvn)`, `kafka_2.13-${KAFKA_VERSION}.jar missing from ${staging}`, p.fetchLog);
  }
  fs.writeFileSync(path.join(staging, '.complete'), `${jars.length} jars\n`);
  fs.rmSync(p.libs, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(p.libs), { recursive: true });
  fs.renameSync(staging, p.libs);
  ctx.log(`kafka: fetched ${jars.length} jars in ${((Date.now() - started) / 1000).toFixed(1)}s`);
}

function classpath(p: KafkaPaths): string {
  return `${p.libs}/*`;
}

/** Formats the KRaft storage once; the cluster id is kept next to it. */
async function ensureFormatted(p: KafkaPaths): Promise<string> {
  const existingId = fs.existsSync(p.clusterIdFile) ? fs.readFileSync(p.clusterIdFile, 'utf8').trim() : '';
  if (existingId && fs.existsSync(path.join(p.logDirs, 'meta.properties'))) return existingId;
  const clusterId = existingId || newClusterId();
  fs.writeFileSync(p.clusterIdFile, `${clusterId}\n`);
  await runOrFail(
    `${STEP}: format storage`,
    'java',
    [`-Dlog4j.configuration=file:${p.log4j}`, `-Dkafka.logs.dir=${path.dirname(p.out)}`, '-cp', classpath(p), 'kafka.tools.StorageTool', 'format', '--ignore-formatted', '-t', clusterId, '-c', p.properties],
    { cwd: p.dir, logFile: p.out },
  );
  return clusterId;
}

function managedPid(ctx: InfraContext): number | undefined {
  const pid = readState(ctx).kafka?.pid;
  // The pid must still be our broker: pids get recycled after a reboot.
  return pid !== undefined && isPidAlive(pid) && pidCommandLine(pid).includes('kafka.Kafka') ? pid : undefined;
}

async function waitUntilServing(p: KafkaPaths, pid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const port = await waitForPort(HOST, BROKER_PORT, timeoutMs, () => isPidAlive(pid));
  if (port === 'died') {
    throw new InfraError(`${STEP}: start`, `the broker (pid ${pid}) exited during start-up; also see ${p.serverLog}`, p.out);
  }
  if (port === 'timeout') {
    throw new InfraError(`${STEP}: start`, `the broker (pid ${pid}) did not listen on ${HOST}:${BROKER_PORT} within ${timeoutMs / 1000}s`, p.serverLog);
  }
  try {
    await waitForBroker([DEFAULT_KAFKA_BROKERS], Math.max(1_000, deadline - Date.now()));
  } catch (err) {
    throw new InfraError(`${STEP}: start`, (err as Error).message, p.serverLog);
  }
}

/** Starts (or finds) the broker; resolves to the KAFKA_BROKERS value to use. */
export async function upKafka(ctx: InfraContext): Promise<string> {
  const external = externalKafka(ctx);
  if (external) {
    try {
      await waitForBroker(external, 15_000);
    } catch (err) {
      throw new InfraError(STEP, `KAFKA_BROKERS=${ctx.env.KAFKA_BROKERS}: ${(err as Error).message}`);
    }
    ctx.log(`kafka: using KAFKA_BROKERS ${describeKafkaTarget(external)} (broker answers)`);
    return ctx.env.KAFKA_BROKERS!;
  }

  const p = pathsOf(ctx);
  const running = managedPid(ctx);
  if (await isPortOpen(HOST, BROKER_PORT)) {
    try {
      await waitForBroker([DEFAULT_KAFKA_BROKERS], running ? START_TIMEOUT_MS : 10_000);
    } catch (err) {
      throw new InfraError(STEP, `something listens on ${HOST}:${BROKER_PORT} but is not a working Kafka broker: ${(err as Error).message}`, p.serverLog);
    }
    ctx.log(`kafka: already running on ${DEFAULT_KAFKA_BROKERS}${running ? ` (pid ${running})` : ' (not started by infra:up)'}`);
    return DEFAULT_KAFKA_BROKERS;
  }
  if (running) {
    // Started by an earlier (or concurrent) infra:up and still booting: wait rather than start a second one.
    ctx.log(`kafka: broker pid ${running} is starting, waiting for it…`);
    await waitUntilServing(p, running, START_TIMEOUT_MS);
    ctx.log(`kafka: already running on ${DEFAULT_KAFKA_BROKERS} (pid ${running})`);
    return DEFAULT_KAFKA_BROKERS;
  }
  if (await isPortOpen(HOST, CONTROLLER_PORT)) {
    throw new InfraError(STEP, `port ${HOST}:${CONTROLLER_PORT} (KRaft controller) is taken by another process (Alertmanager defaults to it): free it first`);
  }

  await ensureLibs(ctx, p);
  fs.mkdirSync(p.logDirs, { recursive: true });
  fs.writeFileSync(p.properties, serverProperties(p));
  fs.writeFileSync(p.log4j, log4jProperties());
  const clusterId = await ensureFormatted(p);

  const started = Date.now();
  const pid = spawnDetached(
    'java',
    [
      '-Xms256m',
      '-Xmx768m',
      '-XX:+UseG1GC',
      '-XX:MaxGCPauseMillis=20',
      '-XX:+ExitOnOutOfMemoryError',
      '-Djava.awt.headless=true',
      `-Dkafka.logs.dir=${ctx.logDir}`,
      `-Dlog4j.configuration=file:${p.log4j}`,
      '-cp',
      classpath(p),
      'kafka.Kafka',
      p.properties,
    ],
    { cwd: p.dir, logFile: p.out },
  );
  fs.writeFileSync(p.pidFile, `${pid}\n`);
  updateState(ctx, (s) => {
    s.kafka = { pid, clusterId, startedAt: new Date().toISOString() };
  });
  ctx.log(`kafka: starting broker pid ${pid} (cluster ${clusterId})…`);
  await waitUntilServing(p, pid, START_TIMEOUT_MS);
  ctx.log(`kafka: broker started on ${DEFAULT_KAFKA_BROKERS} in ${((Date.now() - started) / 1000).toFixed(1)}s (log ${p.serverLog})`);
  return DEFAULT_KAFKA_BROKERS;
}

/** Creates or grows the registry's topics on the brokers. */
export async function upTopics(ctx: InfraContext, brokers: string): Promise<void> {
  const target = kafkaTargetOf(ctx, brokers);
  try {
    const result = await ensureTopics(target, allTopics, { timeoutMs: 60_000, clientId: 'headroom-infra' });
    const parts = [
      result.created.length > 0 ? `created ${result.created.join(', ')}` : '',
      result.expanded.length > 0 ? `added partitions to ${result.expanded.join(', ')}` : '',
      result.reconfigured.length > 0 ? `reset configs of ${result.reconfigured.join(', ')}` : '',
    ].filter((s) => s.length > 0);
    const summary = parts.length > 0 ? parts.join('; ') : `all ${result.existing.length} already exist`;
    ctx.log(`topics: ${summary}`);
  } catch (err) {
    throw new InfraError('topics', `creating the registry topics on ${brokers} failed: ${(err as Error).message}`, ctx.env.KAFKA_BROKERS ? undefined : pathsOf(ctx).serverLog);
  }
}

export async function downKafka(ctx: InfraContext): Promise<void> {
  const state = readState(ctx).kafka;
  if (!state) {
    ctx.log('kafka: not started by infra:up, left alone');
    return;
  }
  const pid = managedPid(ctx);
  if (pid === undefined) {
    ctx.log('kafka: was not running');
  } else {
    const started = Date.now();
    const how = await stopPid(pid, STOP_GRACE_MS);
    ctx.log(`kafka: stopped pid ${pid} (${how === 'killed' ? `SIGKILL after ${STOP_GRACE_MS / 1000}s` : 'SIGTERM'}, ${((Date.now() - started) / 1000).toFixed(1)}s)`);
  }
  fs.rmSync(pathsOf(ctx).pidFile, { force: true });
  updateState(ctx, (s) => {
    delete s.kafka;
  });
}

export async function statusKafka(ctx: InfraContext): Promise<string> {
  let external: KafkaTarget | undefined;
  try {
    external = externalKafka(ctx);
  } catch (err) {
    return `kafka: ${(err as Error).message}`;
  }
  if (external) {
    const up = await waitForBroker(external, 3_000).then(
      () => true,
      () => false,
    );
    return `kafka: ${up ? 'up' : 'down'} at ${describeKafkaTarget(external)} (KAFKA_BROKERS)`;
  }
  const up = await isPortOpen(HOST, BROKER_PORT);
  const pid = managedPid(ctx);
  return `kafka: ${up ? 'up' : pid ? 'starting' : 'down'} on ${DEFAULT_KAFKA_BROKERS}${pid ? `, started by infra:up (pid ${pid})` : ''}`;
}
