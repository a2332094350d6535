import { SinkRejectedError, SinkUnavailableError } from './sink';

/** Retry-After as milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null | undefined, now = Date.now()): number | undefined {
  if (!header) return undefined;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * How a sink's HTTP answer is judged, shared by the HTTP sinks so they agree: 2xx accepted; 408, 429
 * and 5xx unavailable (retry, honouring Retry-After); 401, 403 and 404 unavailable too — a wrong
 * token or URL is the deployment's outage, fixed by an operator, after which every window must still
 * arrive, not be dead-lettered by the thousand; any other 4xx rejected: these windows are refused
 * for what they are, and retrying cannot change it.
 */
export function classifyStatus(sink: string, status: number, body: string, retryAfter?: string | null): SinkUnavailableError | SinkRejectedError | undefined {
  if (status >= 200 && status < 300) return undefined;
  const detail = `${sink}: HTTP ${status}${body ? `: ${body.slice(0, 500)}` : ''}`;
  if (status === 408 || status === 429 || status >= 500) return new SinkUnavailableError(detail, retryAfterMs(retryAfter));
  if (status === 401 || status === 403 || status === 404) return new SinkUnavailableError(`${detail} (check the sink's URL and credentials)`);
  return new SinkRejectedError(detail, status === 413 ? 'payload_too_large' : status === 422 ? 'unprocessable' : 'bad_request');
}

/** A failed request (refused connection, reset, DNS, timeout): always unavailable. */
export function networkFailure(sink: string, err: unknown): SinkUnavailableError {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  const why = e?.name === 'TimeoutError' ? 'timed out' : (e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err));
  return new SinkUnavailableError(`${sink}: request failed: ${why}`);
}
