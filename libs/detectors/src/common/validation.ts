/** One problem found in a config, addressed by its dotted path (e.g. `season.period`). */
export interface ConfigIssue {
  path: string;
  message: string;
}

/** Collects issues while walking a config; keeps validators short and uniform. */
export class IssueCollector {
  readonly issues: ConfigIssue[] = [];

  add(path: string, message: string): void {
    this.issues.push({ path, message });
  }

  positive(path: string, value: number): void {
    if (!Number.isFinite(value) || value <= 0) this.add(path, 'must be a positive number');
  }

  positiveInt(path: string, value: number): void {
    if (!Number.isInteger(value) || value <= 0) this.add(path, 'must be a positive integer');
  }

  nonNegativeInt(path: string, value: number): void {
    if (!Number.isInteger(value) || value < 0) this.add(path, 'must be a non-negative integer');
  }

  /** Open-closed interval check for smoothing factors and probabilities. */
  inRange(path: string, value: number, min: number, max: number, inclusiveMin = false): void {
    const lowOk = inclusiveMin ? value >= min : value > min;
    if (!Number.isFinite(value) || !lowOk || value > max) {
      this.add(path, `must be in ${inclusiveMin ? '[' : '('}${min}, ${max}]`);
    }
  }
}

/** Thrown by factories so a bad config fails loudly at construction, with every issue listed. */
export class InvalidConfigError extends Error {
  constructor(
    readonly detector: string,
    readonly issues: ConfigIssue[],
  ) {
    super(`invalid ${detector} config: ${issues.map((i) => `${i.path} ${i.message}`).join('; ')}`);
    this.name = 'InvalidConfigError';
  }
}

export function assertValid(detector: string, issues: ConfigIssue[]): void {
  if (issues.length > 0) throw new InvalidConfigError(detector, issues);
}
