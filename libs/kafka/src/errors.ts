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
