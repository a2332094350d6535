import type { AggregateWindow } from '@headroom/contracts';

/**
 * How the sink judges a bulk answer, item by item (a bulk answers 200 even when items failed):
 * - `done`: stored (200/201), or 409 version conflict — a newer revision of that window is stored.
 * - `retry`: 408, 429 (write queue full, flood-stage block), 5xx — worth the same item again soon.
 * - `blocked`: 401, 403, 404 (no right to the index, auto-create disabled) — the deployment's outage:
 *   no in-call retry, but never the DLQ either; the runner retries once an operator fixed it.
 * - `rejected`: any other 4xx (mapping or parse errors): these windows are refused for what they are.
 */
export type ItemVerdict =
  | { kind: 'done' }
  | { kind: 'retry'; status: number; reason: string }
  | { kind: 'blocked'; status: number; reason: string }
  | { kind: 'rejected'; status: number; code: string; reason: string };

export interface BulkItemResult {
  status: number;
  error?: { type?: string; reason?: string; caused_by?: { type?: string; reason?: string } } | string;
}

function describe(error: BulkItemResult['error']): { type: string; reason: string } {
  if (error === undefined) return { type: 'unknown', reason: '' };
  if (typeof error === 'string') return { type: 'unknown', reason: error };
  const type = error.type ?? 'unknown';
  const cause = error.caused_by?.reason ? ` (${error.caused_by.type ?? 'cause'}: ${error.caused_by.reason})` : '';
  return { type, reason: `${type}: ${error.reason ?? ''}${cause}`.slice(0, 500) };
}

/** A short, stable code for the DLQ record: `mapping` for anything the mapping refused. */
export function rejectionCode(type: string): string {
  if (/mapp|pars|illegal_argument|document_parsing/.test(type)) return 'mapping';
  return 'bad_request';
}

export function classifyItem(item: BulkItemResult): ItemVerdict {
  const { status } = item;
  if (status >= 200 && status < 300) return { kind: 'done' };
  const { type, reason } = describe(item.error);
  if (status === 409 && type === 'version_conflict_engine_exception') return { kind: 'done' };
  if (status === 408 || status === 429 || status >= 500) return { kind: 'retry', status, reason };
  if (status === 401 || status === 403 || status === 404) return { kind: 'blocked', status, reason };
  return { kind: 'rejected', status, code: rejectionCode(type), reason };
}

/** The verdict of a whole request that did not get a per-item answer (the same rules as items). */
export function classifyRequestStatus(status: number): 'retry' | 'blocked' | 'rejected' {
  if (status === 408 || status === 429 || status >= 500) return 'retry';
  if (status === 401 || status === 403 || status === 404) return 'blocked';
  return 'rejected';
}

/**
 * Proposed extension of the sink contract (sink.ts): `write` may resolve with the windows the store
 * refused for good while it stored the others, so the runner sends exactly those to the DLQ and
 * commits the record. Resolving `void` (or `{ rejected: [] }`) means every window was stored.
 */
export interface RejectedWindow {
  readonly window: AggregateWindow;
  /** Short machine-readable cause, like SinkRejectedError.code (`mapping`, `bad_request`). */
  readonly code: string;
  readonly reason: string;
}

export interface WriteOutcome {
  readonly rejected: readonly RejectedWindow[];
}
