/**
 * The topic registry: every Kafka topic Headroom uses, with its partitioning and retention.
 * A topic is never renamed; a breaking change is a new `.v2` topic.
 */
export interface TopicSpec {
  readonly name: string;
  readonly partitions: number;
  /**
   * Largest record batch the topic accepts, in bytes (Kafka's `max.message.bytes`, also in `config`).
   * Publishers split what would not fit; consumers size their fetches from it.
   */
  readonly maxMessageBytes: number;
  /** Kafka topic-level configs applied at creation and reconciled on existing topics. */
  readonly config: Readonly<Record<string, string>>;
  readonly description: string;
}

const MiB = 1024 * 1024;
/** Telemetry batches (up to the edge's body limit) and aggregate flushes can be large. */
const LARGE = 8 * MiB;
const DEFAULT = 1 * MiB;

export const Topics = {
  telemetry: {
    name: 'headroom.telemetry.v1',
    partitions: 12,
    maxMessageBytes: LARGE,
    config: { 'max.message.bytes': String(LARGE), 'cleanup.policy': 'delete', 'retention.ms': String(7 * 24 * 3600 * 1000) },
    description: 'Encrypted telemetry batches from producers; key = tenant[#shard].',
  },
  aggregates: {
    name: 'headroom.aggregates.v1',
    partitions: 12,
    maxMessageBytes: LARGE,
    config: { 'max.message.bytes': String(LARGE), 'cleanup.policy': 'delete', 'retention.ms': String(7 * 24 * 3600 * 1000) },
    description: 'Closed time windows per tenant and series (count, sum, min, max, quantiles).',
  },
  signals: {
    name: 'headroom.signals.v1',
    partitions: 12,
    maxMessageBytes: DEFAULT,
    config: { 'max.message.bytes': String(DEFAULT), 'cleanup.policy': 'delete', 'retention.ms': String(7 * 24 * 3600 * 1000) },
    description: 'Anomaly, forecast and drift signals per tenant and series.',
  },
  alerts: {
    name: 'headroom.alerts.v1',
    partitions: 12,
    maxMessageBytes: DEFAULT,
    config: { 'max.message.bytes': String(DEFAULT), 'cleanup.policy': 'delete', 'retention.ms': String(30 * 24 * 3600 * 1000) },
    description: 'Alert state transitions (firing, resolved) per tenant.',
  },
  control: {
    name: 'headroom.control.v1',
    partitions: 1,
    maxMessageBytes: DEFAULT,
    // Bounded compaction, so a shredded tenant's wrapped keys leave the topic in a known time
    // (docs/crypto.md, "Compaction bound"): the active segment rolls at the first append after
    // min(segment.ms, max.compaction.lag.ms) (control's key job appends at least hourly), the cleaner
    // must then clean it whatever the dirty ratio, and tombstones go delete.retention.ms later.
    config: {
      'max.message.bytes': String(DEFAULT),
      'cleanup.policy': 'compact',
      'min.compaction.lag.ms': '0',
      'max.compaction.lag.ms': String(3600 * 1000),
      'segment.ms': String(3600 * 1000),
      'delete.retention.ms': String(3600 * 1000),
    },
    description: 'Compacted: tenants, API keys (hashed), wrapped data keys, alert rules. Latest value per key wins.',
  },
  audit: {
    name: 'headroom.audit.v1',
    partitions: 3,
    maxMessageBytes: DEFAULT,
    config: { 'max.message.bytes': String(DEFAULT), 'cleanup.policy': 'delete', 'retention.ms': String(365 * 24 * 3600 * 1000) },
    description: 'Audit events from every service, stored by control.',
  },
  erasure: {
    name: 'headroom.erasure.v1',
    partitions: 3,
    maxMessageBytes: DEFAULT,
    config: { 'max.message.bytes': String(DEFAULT), 'cleanup.policy': 'delete', 'retention.ms': String(30 * 24 * 3600 * 1000) },
    description: 'GDPR erasure acknowledgements: each service reports what it deleted and what is left (counts and store names, no tenant data).',
  },
  dlq: {
    name: 'headroom.dlq.v1',
    partitions: 3,
    maxMessageBytes: DEFAULT,
    config: { 'max.message.bytes': String(DEFAULT), 'cleanup.policy': 'delete', 'retention.ms': String(30 * 24 * 3600 * 1000) },
    description: 'Records that can never be processed, with the reason and original headers.',
  },
} as const satisfies Record<string, TopicSpec>;

export type TopicKey = keyof typeof Topics;
export type TopicName = (typeof Topics)[TopicKey]['name'];

export const allTopics: readonly TopicSpec[] = Object.values(Topics);

/** Record headers carried on every Headroom record. */
export const Headers = {
  tenant: 'hr-tenant',
  schema: 'hr-schema',
  codec: 'hr-codec',
  keyVersion: 'hr-key',
  traceparent: 'traceparent',
} as const;
