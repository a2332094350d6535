/**
 * A handler throws PermanentError for a record that can never be processed (it goes to the DLQ
 * with the reason). Any other error is treated as retriable: retried with backoff, never skipped.
 */
export class PermanentError extends Error {
  constructor(
    message: string,
    readonly code: string = 'handler',
  ) {
    super(message);
    this.name = 'PermanentError';
  }
}

/** Raised before producing when a payload does not match its contract. Nothing is sent. */
export class ContractViolationError extends Error {
  constructor(
    readonly contractId: string,
    readonly issues: { path: string; message: string }[],
  ) {
    super(`${contractId}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
    this.name = 'ContractViolationError';
  }
}

/**
 * A record that does not fit its topic even after splitting (or that has no way to split). Permanent:
 * a consumer whose handler meets it quarantines the input instead of retrying it forever.
 */
export class RecordTooLargeError extends PermanentError {
  constructor(
    readonly topic: string,
    readonly bytes: number,
    readonly limit: number,
    readonly contractId: string,
  ) {
    super(
      `${contractId}: a record of ${bytes} bytes does not fit ${topic} (limit ${limit} bytes: max.message.bytes minus a safety margin) and cannot be split further`,
      'record_too_large',
    );
    this.name = 'RecordTooLargeError';
  }
}
