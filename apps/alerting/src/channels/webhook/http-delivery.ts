import { RetryableSendError, retryAfterMs, type ConfigProblem } from '../channel';
import { egressDenial } from '../egress';

/**
 * The HTTP plumbing shared by the channels that POST to a provider (webhook, PagerDuty, SMS): one
 * place decides what is transient, and one place keeps secrets out of the messages we raise.
 */

export type Fetch = typeof fetch;

export interface HttpAnswer {
  status: number;
  headers: Headers;
  text: string;
  /** Set when the egress guard refused the destination: nothing was sent, and retrying will not help. */
  denied?: string;
}

/** Replaces every occurrence of each secret (and its URL-encoded form) so a provider echoing it back cannot leak it. */
export function redact(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const secret of secrets) {
    if (!secret) continue;
    for (const form of new Set([secret, encodeURIComponent(secret)])) out = out.split(form).join('[redacted]');
  }
  return out;
}

/**
 * POSTs with a deadline. Network failures and timeouts become `RetryableSendError`s naming only the
 * host: the URL's path or query may be a credential (many webhook URLs are).
 */
export async function post(
  fetchFn: Fetch,
  url: string,
  init: { headers: Record<string, string>; body: string; timeoutMs: number; what: string },
): Promise<HttpAnswer> {
  const host = new URL(url).host;
  let res: Response;
  try {
    res = await fetchFn(url, { method: 'POST', headers: init.headers, body: init.body, redirect: 'manual', signal: AbortSignal.timeout(init.timeoutMs) });
  } catch (err) {
    const denied = egressDenial(err);
    if (denied) return { status: 0, headers: new Headers(), text: '', denied: denied.message };
    const e = err as Error & { cause?: { code?: string } };
    const why = e.name === 'TimeoutError' || e.name === 'AbortError' ? `no answer within ${init.timeoutMs} ms` : (e.cause?.code ?? e.name);
    throw new RetryableSendError(`${init.what} POST to ${host} failed: ${why}`);
  }
  const text = await res.text().catch(() => '');
  return { status: res.status, headers: res.headers, text };
}

/**
 * The classification every HTTP channel shares: 2xx sent; 408, 429 and 5xx transient (honouring
 * Retry-After); any other status (4xx, and 3xx since redirects are not followed) refused for good.
 */
export function classify(answer: HttpAnswer, what: string, detail: string): 'sent' | { rejected: string } {
  if (answer.denied) return { rejected: `${what} not sent: ${answer.denied}` };
  const { status } = answer;
  if (status >= 200 && status < 300) return 'sent';
  if (status === 408 || status === 429 || status >= 500) {
    throw new RetryableSendError(`${what} answered ${status}${detail ? `: ${detail}` : ''}`, retryAfterMs(answer.headers.get('retry-after')), status);
  }
  return { rejected: `${what} answered ${status}${detail ? `: ${detail}` : ''}` };
}

/** A short, single-line excerpt of a provider's error body for a DLQ reason. */
export function excerpt(text: string, max = 200): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

/** Deployment-config checks shared by the HTTP channels. */
export function checkTimeout(problems: ConfigProblem[], timeoutMs: unknown, path = 'timeoutMs'): void {
  if (typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs) || timeoutMs <= 0) problems.push({ path, message: 'must be a positive integer (milliseconds)' });
}

export function checkHttpUrl(problems: ConfigProblem[], value: unknown, path: string, example: string): void {
  let url: URL | undefined;
  try {
    url = new URL(String(value));
  } catch {
    problems.push({ path, message: `must be an absolute URL such as ${example}` });
    return;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') problems.push({ path, message: 'must be an http(s) URL' });
}

/** For targets: an http(s) URL without user:password (credentials in URLs end up in proxies' and servers' logs). */
export function isPlainHttpUrl(value: string): { ok: true } | { ok: false; message: string } {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return { ok: false, message: 'must be an absolute URL' };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return { ok: false, message: 'must be an http(s) URL' };
  if (url.username || url.password) return { ok: false, message: 'must not carry credentials (user:password@): use the secret field' };
  return { ok: true };
}
