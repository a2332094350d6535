import { RetryableSendError, type GroupNotification } from '../channel';
import { classifySmtpError, emailChannel, emailContent, escapeHtml, headerText } from './email.channel';

const HOSTILE = '<script>alert(1)</script>';
const NOW = Date.UTC(2025, 0, 2, 3, 4, 5);

function notification(overrides: Partial<GroupNotification> = {}): GroupNotification {
  return {
    id: 'outbox-9',
    tenant: 'acme',
    receiver: 'team-mail',
    groupKey: 'g1',
    status: 'firing',
    reason: 'firing',
    groupLabels: { alertname: 'DiskFull', host: HOSTILE },
    commonLabels: { alertname: 'DiskFull', host: HOSTILE },
    commonAnnotations: {},
    alerts: [
      {
        fingerprint: 'f1',
        status: 'firing',
        labels: { alertname: 'DiskFull', host: HOSTILE },
        annotations: { summary: `disk "full" on ${HOSTILE}`, runbook_url: 'javascript:alert(2)' },
        value: 0.97,
        startsAt: NOW - 60_000,
      },
    ],
    locale: 'en',
    ackUrl: 'https://alerts.example.com/ack/g1?t=1&u=2',
    createdAt: NOW,
    ...overrides,
  };
}

const config = { host: 'smtp.example.com', port: 587, secure: false, from: 'Headroom <alerts@example.com>', timeoutMs: 5000 };

describe('email channel config', () => {
  it('accepts a complete config and lists every problem with its path', () => {
    expect(emailChannel.validate(config)).toEqual([]);
    expect(emailChannel.validate({ ...config, user: 'u', pass: 'p' })).toEqual([]);
    expect(emailChannel.validate({ host: ' ', port: 70000, secure: 'yes' as unknown as boolean, pass: 'p', from: 'nobody', timeoutMs: -1 })).toEqual([
      { path: 'host', message: expect.stringContaining('required') },
      { path: 'port', message: expect.stringContaining('port number') },
      { path: 'secure', message: expect.any(String) },
      { path: 'user', message: expect.stringContaining('password') },
      { path: 'from', message: expect.stringContaining('address') },
      { path: 'timeoutMs', message: expect.stringContaining('positive integer') },
    ]);
    expect(emailChannel.validate({ ...config, from: 'a@example.com\r\nBcc: x@evil.test' }).map((p) => p.path)).toEqual(['from']);
  });

  it('takes 1 to 20 valid addresses, and nothing that could smuggle a header', () => {
    const schema = emailChannel.targetSchema;
    expect(schema.safeParse({ to: ['oncall@example.com', 'ana@example.org'] }).success).toBe(true);
    expect(schema.safeParse({ to: [] }).success).toBe(false);
    expect(schema.safeParse({ to: Array.from({ length: 21 }, (_, i) => `u${i}@example.com`) }).success).toBe(false);
    const bad = schema.safeParse({ to: ['ok@example.com', 'oncall@example.com\r\nBcc: x@evil.test', 'not-an-address'] });
    expect(bad.error?.issues.map((i) => i.path.join('.'))).toEqual(['to.1', 'to.2']);
    expect(emailChannel.secretFields).toEqual([]);
  });
});

describe('email content', () => {
  it('escapes every tenant-written string in the HTML and links only http(s) URLs', () => {
    const { html, text } = emailContent(notification());
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('disk &quot;full&quot; on &lt;script&gt;');
    expect(html).not.toContain('javascript:');
    expect(html).toContain('<a href="https://alerts.example.com/ack/g1?t=1&amp;u=2">');
    // Plain text is inert: the label reads as written.
    expect(text).toContain(HOSTILE);
  });

  it('uses the rendered short text as subject, on one line', () => {
    const { subject } = emailContent(notification({ groupLabels: { alertname: 'DiskFull', host: 'db-1\r\nBcc: victim@example.com' } }));
    expect(subject).toContain('DiskFull');
    expect(subject).not.toMatch(/[\r\n]/);
    expect(headerText(' a\r\nb\tc\n')).toBe('a b c');
  });

  it('escapes the five HTML-significant characters', () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe('&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
  });
});

describe('SMTP error classification', () => {
  const smtpError = (fields: object) => Object.assign(new Error('Message failed: reply'), fields);

  it('retries 4xx replies, 503 and failures without a reply', () => {
    for (const e of [smtpError({ code: 'EMESSAGE', responseCode: 451 }), smtpError({ code: 'EPROTOCOL', responseCode: 503 }), smtpError({ code: 'ESOCKET' }), smtpError({ code: 'ETIMEDOUT' })]) {
      expect(() => classifySmtpError(e)).toThrow(RetryableSendError);
    }
  });

  it('rejects other 5xx replies and envelope or config errors', () => {
    expect(classifySmtpError(smtpError({ code: 'EENVELOPE', responseCode: 550 }))).toEqual({ outcome: 'rejected', reason: 'smtp: EENVELOPE 550: Message failed: reply' });
    expect(classifySmtpError(smtpError({ code: 'EAUTH', responseCode: 535 }))).toMatchObject({ outcome: 'rejected' });
    expect(classifySmtpError(smtpError({ code: 'EENVELOPE' }))).toMatchObject({ outcome: 'rejected' });
  });

  it('keeps the SMTP password out of the message', () => {
    const result = classifySmtpError(smtpError({ code: 'EAUTH', responseCode: 535, message: 'Invalid login: 535 bad password hunter2-secret' }), ['hunter2-secret']);
    expect(JSON.stringify(result)).not.toContain('hunter2-secret');
  });
});
