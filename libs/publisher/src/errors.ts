import type { PointIssue } from '@headroom/contracts';

/**
 * `record()` was given points or events the edge would refuse. Nothing of the call was buffered.
 * `issues` lists every problem (up to 100; `omittedIssues` counts the rest) with its path into
 * `{ points, events }` — `points.3.labels.route` — exactly as the HTTP edge's 400 lists them.
 */
export class InvalidTelemetryError extends Error {
  constructor(
    readonly tenant: string,
    readonly issues: PointIssue[],
    readonly omittedIssues: number,
  ) {
    const total = issues.length + omittedIssues;
    const head = `${total} problem${total === 1 ? '' : 's'} in the telemetry recorded for tenant ${tenant}; nothing of the call was recorded`;
    const more = omittedIssues > 0 ? `\n  … and ${omittedIssues} more` : '';
    super(`${head}:\n${issues.map((i) => `  ${i.path}: ${i.message} (${i.reason})`).join('\n')}${more}`);
    this.name = 'InvalidTelemetryError';
  }
}

/** The tenant cannot be published for: unknown on the control topic, erased, suspended, or without a data key. */
export class TenantUnavailableError extends Error {
  constructor(
    readonly tenant: string,
    readonly code: 'unknown_tenant' | 'tenant_erased' | 'tenant_suspended' | 'no_data_key' | 'no_pseudonym_key',
    message: string,
  ) {
    super(message);
    this.name = 'TenantUnavailableError';
  }
}

/** `record()` after `close()` began. */
export class PublisherClosedError extends Error {
  constructor() {
    super('the telemetry publisher is closed (or closing): nothing was recorded');
    this.name = 'PublisherClosedError';
  }
}

/** `record()` gave up (its `signal` aborted) while it waited for room in the buffer: nothing of it was recorded. */
export class RecordAbortedError extends Error {
  constructor() {
    super('record aborted while waiting for room in the buffer (back-pressure): nothing of it was recorded');
    this.name = 'RecordAbortedError';
  }
}

/**
 * Kafka did not acknowledge a batch (the producer's own retries were exhausted, or sealing failed,
 * e.g. the tenant was erased meanwhile). The batch may be in doubt: a request the broker never
 * answered may still have been stored. `points`/`events` count the items of that batch.
 */
export class TelemetryPublishError extends Error {
  constructor(
    readonly tenant: string,
    readonly batchId: string,
    readonly points: number,
    readonly events: number,
    override readonly cause: unknown,
  ) {
    super(`telemetry batch ${batchId} of tenant ${tenant} (${points} points, ${events} events) was not acknowledged by Kafka: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'TelemetryPublishError';
  }
}
