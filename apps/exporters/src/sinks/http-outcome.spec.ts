import { classifyStatus, networkFailure, retryAfterMs } from './http-outcome';
import { SinkRejectedError, SinkUnavailableError } from './sink';

describe('classifyStatus', () => {
  it('accepts 2xx', () => {
    for (const status of [200, 204]) expect(classifyStatus('s', status, '')).toBeUndefined();
  });

  it('treats 408, 429 and 5xx as unavailable, with Retry-After', () => {
    for (const status of [408, 429, 500, 502, 503]) expect(classifyStatus('s', status, 'busy')).toBeInstanceOf(SinkUnavailableError);
    expect((classifyStatus('s', 429, '', '7') as SinkUnavailableError).retryAfterMs).toBe(7000);
  });

  it('treats a wrong URL or credential (401, 403, 404) as an outage, not as bad windows', () => {
    for (const status of [401, 403, 404]) expect(classifyStatus('s', status, '')).toBeInstanceOf(SinkUnavailableError);
  });

  it('rejects the windows on any other 4xx, with a code and the body', () => {
    const err = classifyStatus('remote_write', 400, 'out of order sample') as SinkRejectedError;
    expect(err).toBeInstanceOf(SinkRejectedError);
    expect(err.code).toBe('bad_request');
    expect(err.message).toBe('remote_write: HTTP 400: out of order sample');
    expect((classifyStatus('s', 413, '') as SinkRejectedError).code).toBe('payload_too_large');
  });
});

describe('retryAfterMs / networkFailure', () => {
  it('reads delta-seconds and HTTP dates', () => {
    const now = Date.UTC(2026, 0, 1);
    expect(retryAfterMs('3', now)).toBe(3000);
    expect(retryAfterMs(new Date(now + 5000).toUTCString(), now)).toBe(5000);
    expect(retryAfterMs('soon', now)).toBeUndefined();
    expect(retryAfterMs(null, now)).toBeUndefined();
  });

  it('names a refused connection and a timeout', () => {
    expect(networkFailure('s', Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } })).message).toBe('s: request failed: ECONNREFUSED');
    expect(networkFailure('s', Object.assign(new Error('aborted'), { name: 'TimeoutError' })).message).toBe('s: request failed: timed out');
  });
});
