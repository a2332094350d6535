/**
 * A query the API refuses, with the parameter at fault: 400 when it is malformed, 422 when it is
 * well-formed but over a limit (too many series, points or windows).
 */
export class QueryError extends Error {
  constructor(
    readonly status: 400 | 422,
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
    this.name = 'QueryError';
  }

  get isLimit(): boolean {
    return this.status === 422;
  }
}

export const badParam = (field: string, reason: string) => new QueryError(400, field, reason);
export const overLimit = (field: string, reason: string) => new QueryError(422, field, reason);
