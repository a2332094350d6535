/**
 * Topic administration: create the registry's topics, grow their partitions, wait for a broker.
 * Used by `npm run infra:up`, deployment jobs and integration specs; callers pass the brokers, or a
 * `KafkaTarget` (brokers + TLS/SASL settings, the same shape the services' clients use);
 * libraries never read the environment.
 */
import { ConfigResourceTypes, ConfigSource, Kafka, logLevel } from 'kafkajs';
import type { Admin, ITopicConfig } from 'kafkajs';
import type { TopicSpec } from '@headroom/contracts';
import { describeKafkaTarget, kafkaSecurityOptions, kafkaTarget, type KafkaTarget } from './client';

export interface EnsureTopicsOptions {
  /** Upper bound for the whole operation, and the broker-side timeout of each request. */
  readonly timeoutMs?: number;
  /** Client id shown in broker logs and quotas. */
  readonly clientId?: string;
}

export interface EnsureTopicsResult {
  /** Topics that did not exist and were created with the registry's partitions and configs. */
  created: string[];
  /** Topics that already existed (including those grown or reconfigured below). */
  existing: string[];
  /** Existing topics whose partition count was raised to the registry's. */
  expanded: string[];
  /** Existing topics whose registry configs differed and were set again. */
  reconfigured: string[];
}

export interface TopicDescription {
  readonly name: string;
  readonly partitions: number;
  /** Effective topic configs as the broker reports them (defaults included). */
  readonly config: Readonly<Record<string, string>>;
}

const DEFAULT_TIMEOUT_MS = 30_000;

function client(target: KafkaTarget, clientId: string, level: logLevel, connectionTimeout = 3_000): Kafka {
  return new Kafka({
    clientId,
    brokers: [...target.brokers],
    ...kafkaSecurityOptions(target.security),
    logLevel: level,
    connectionTimeout,
    // A fresh single-node broker may answer before its controller has elected leaders: retry briefly.
    retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 2_000 },
  });
}

async function withAdmin<T>(kafka: Kafka, fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** kafkajs' SASL failure, possibly wrapped by its retrier (KafkaJSNonRetriableError with a cause). */
function isAuthenticationError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e.name === 'KafkaJSSASLAuthenticationError') return true;
  }
  return false;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Resolves once a broker of the cluster answers a metadata request; rejects after `timeoutMs`
 * with the last connection error. Connection-refused retries are expected here, so the client is silent.
 */
export async function waitForBroker(brokers: readonly string[] | KafkaTarget, timeoutMs: number): Promise<void> {
  const target = kafkaTarget(brokers);
  const deadline = Date.now() + timeoutMs;
  let lastError = 'no attempt made';
  while (Date.now() < deadline) {
    const kafka = new Kafka({
      clientId: 'headroom-wait',
      brokers: [...target.brokers],
      ...kafkaSecurityOptions(target.security),
      logLevel: logLevel.NOTHING,
      connectionTimeout: 1_000,
      retry: { retries: 0 },
    });
    const admin = kafka.admin();
    try {
      await admin.connect();
      const cluster = await admin.describeCluster();
      // A combined KRaft node answers metadata before it has a controller; topics need one.
      if (cluster.brokers.length > 0 && cluster.controller !== null) return;
      lastError = 'broker answered but no controller is elected yet';
    } catch (err) {
      lastError = errorMessage(err);
      // Wrong credentials do not fix themselves: say so now rather than after the whole wait.
      if (isAuthenticationError(err)) {
        await admin.disconnect().catch(() => undefined);
        throw new Error(`Kafka broker ${describeKafkaTarget(target)} refused the credentials: ${lastError}`);
      }
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    await sleep(Math.min(250, Math.max(0, deadline - Date.now())));
  }
  throw new Error(`Kafka broker ${describeKafkaTarget(target)} did not answer within ${timeoutMs} ms: ${lastError}`);
}

/**
 * Makes the cluster hold every topic of `topics` with at least its partition count and its configs.
 * Idempotent: missing topics are created, smaller ones grown (partitions can only increase),
 * and registry configs that drifted are set again (other topic-level overrides are kept).
 */
export async function ensureTopics(
  brokers: readonly string[] | KafkaTarget,
  topics: readonly TopicSpec[],
  opts: EnsureTopicsOptions = {},
): Promise<EnsureTopicsResult> {
  const target = kafkaTarget(brokers);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const kafka = client(target, opts.clientId ?? 'headroom-admin', logLevel.ERROR);
  const work = withAdmin(kafka, async (admin) => {
    const result: EnsureTopicsResult = { created: [], existing: [], expanded: [], reconfigured: [] };
    const present = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !present.has(t.name));
    const existing = topics.filter((t) => present.has(t.name));

    if (missing.length > 0) {
      const specs: ITopicConfig[] = missing.map((t) => ({
        topic: t.name,
        numPartitions: t.partitions,
        // -1: the broker's default.replication.factor (1 on the local node, 3 on a real cluster).
        replicationFactor: -1,
        configEntries: Object.entries(t.config).map(([name, value]) => ({ name, value })),
      }));
      await admin.createTopics({ topics: specs, waitForLeaders: true, timeout: timeoutMs });
      result.created.push(...missing.map((t) => t.name));
    }

    if (existing.length > 0) {
      result.existing.push(...existing.map((t) => t.name));
      const metadata = await admin.fetchTopicMetadata({ topics: existing.map((t) => t.name) });
      const counts = new Map(metadata.topics.map((t) => [t.name, t.partitions.length]));
      const grow = existing.filter((t) => (counts.get(t.name) ?? 0) < t.partitions);
      if (grow.length > 0) {
        await admin.createPartitions({
          timeout: timeoutMs,
          topicPartitions: grow.map((t) => ({ topic: t.name, count: t.partitions })),
        });
        result.expanded.push(...grow.map((t) => t.name));
      }
      result.reconfigured.push(...(await reconcileConfigs(admin, existing)));
    }
    return result;
  });
  return withTimeout(work, timeoutMs, `ensureTopics on ${describeKafkaTarget(target)}`);
}

async function reconcileConfigs(admin: Admin, topics: readonly TopicSpec[]): Promise<string[]> {
  const described = await admin.describeConfigs({
    includeSynonyms: false,
    resources: topics.map((t) => ({ type: ConfigResourceTypes.TOPIC, name: t.name })),
  });
  const byName = new Map(described.resources.map((r) => [r.resourceName, r.configEntries]));
  const changed: string[] = [];
  for (const topic of topics) {
    const entries = byName.get(topic.name) ?? [];
    const current = new Map(entries.map((e) => [e.configName, e.configValue]));
    const drifted = Object.entries(topic.config).some(([name, value]) => current.get(name) !== value);
    if (!drifted) continue;
    // AlterConfigs replaces every topic-level override, so keep the ones set outside the registry.
    const overrides: Record<string, string> = {};
    for (const e of entries) if (e.configSource === ConfigSource.TOPIC_CONFIG) overrides[e.configName] = e.configValue;
    Object.assign(overrides, topic.config);
    await admin.alterConfigs({
      validateOnly: false,
      resources: [
        {
          type: ConfigResourceTypes.TOPIC,
          name: topic.name,
          configEntries: Object.entries(overrides).map(([name, value]) => ({ name, value })),
        },
      ],
    });
    changed.push(topic.name);
  }
  return changed;
}

/** Partition counts and effective configs of the named topics (for checks and tooling). */
export async function describeTopics(
  brokers: readonly string[] | KafkaTarget,
  names: readonly string[],
  opts: { timeoutMs?: number } = {},
): Promise<TopicDescription[]> {
  const target = kafkaTarget(brokers);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const kafka = client(target, 'headroom-describe', logLevel.ERROR);
  const work = withAdmin(kafka, async (admin) => {
    const metadata = await admin.fetchTopicMetadata({ topics: [...names] });
    const configs = await admin.describeConfigs({
      includeSynonyms: false,
      resources: names.map((name) => ({ type: ConfigResourceTypes.TOPIC, name })),
    });
    const configByName = new Map(
      configs.resources.map((r) => [r.resourceName, Object.fromEntries(r.configEntries.map((e) => [e.configName, e.configValue]))]),
    );
    return metadata.topics.map((t) => ({ name: t.name, partitions: t.partitions.length, config: configByName.get(t.name) ?? {} }));
  });
  return withTimeout(work, timeoutMs, `describeTopics on ${describeKafkaTarget(target)}`);
}
