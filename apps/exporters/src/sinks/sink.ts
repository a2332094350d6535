import type { AggregateWindow } from '@headroom/contracts';

/**
 * The contract every export sink implements (remote_write, InfluxDB, Elasticsearch, …). A sink is one
 * folder under `sinks/` exporting a `SinkType`, registered in `sinks/registry.ts`: adding a sink is
 * adding a folder. The runner (sinks/sink-runner.ts) gives each enabled sink its own consumer group
 * on headroom.aggregates.v1, so a dead or slow sink lags only itself, and commits a record's offset
 * only after the sink accepted its windows (a stopped store catches up without loss when it returns).
 */

/** One problem in a sink's deployment config, by dotted path (every problem is listed at boot). */
export interface ConfigProblem {
  path: string;
  message: string;
}

/**
 * Transient: the store is down, slow, overloaded (network, timeout, 408, 429, 5xx). The runner retries
 * the same windows with exponential backoff — never sooner than `retryAfterMs` — for as long as it
 * takes, without moving on, and counts the failures.
 */
export class SinkUnavailableError extends Error {
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'SinkUnavailableError';
  }
}

/**
 * Permanent for these windows (the store refused them for a reason retrying cannot fix: 400, a
 * mapping conflict): the runner sends them to the DLQ with the reason and moves on. Never use it for
 * an outage.
 */
export class SinkRejectedError extends Error {
  constructor(
    message: string,
    /** Short machine-readable cause, e.g. `bad_request`, `mapping`. */
    readonly code: string,
  ) {
    super(message);
    this.name = 'SinkRejectedError';
  }
}

export interface ExportSink {
  readonly type: string;
  /**
   * Writes one tenant's windows (the tenant is the record's authenticated tenant, never a label);
   * resolves once the store acknowledged every one of them. Throws SinkUnavailableError or
   * SinkRejectedError; anything else is treated as unavailable.
   */
  write(tenant: string, windows: readonly AggregateWindow[]): Promise<void>;
  /** Flushes and releases connections at shutdown. */
  close?(): Promise<void>;
}

export interface SinkType<Config> {
  /** Also its consumer group suffix and its `sink` label in self-metrics. */
  readonly type: string;
  defaultConfig(): Config;
  /**
   * The deployment's settings for this sink from the environment (e.g. `EXPORT_REMOTE_WRITE_URL`);
   * undefined when the sink is not enabled in this deployment.
   */
  fromEnv(env: Record<string, string | undefined>): Partial<Config> | undefined;
  validate(config: Config): ConfigProblem[];
  create(config: Config): ExportSink;
}
