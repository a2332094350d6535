import { SmtpPeer } from '@headroom/testing';
import { RetryableSendError, type GroupNotification } from '../channel';
import { emailChannel, EmailSender, type EmailConfig } from './email.channel';

const HOSTILE = '<script>alert(1)</script>';
const PASS = 'smtp-pass-never-shown';

function notification(overrides: Partial<GroupNotification> = {}): GroupNotification {
  const now = Date.now();
  return {
    id: 'n-mail',
    tenant: 'acme',
    receiver: 'team-mail',
    groupKey: 'g-disk',
    status: 'firing',
    reason: 'firing',
    groupLabels: { alertname: 'DiskFull', host: HOSTILE },
    commonLabels: { alertname: 'DiskFull', host: HOSTILE, severity: 'critical' },
    commonAnnotations: {},
    alerts: [
      { fingerprint: 'f1', status: 'firing', labels: { alertname: 'DiskFull', host: HOSTILE }, annotations: { summary: `Disque plein sur ${HOSTILE}`, runbook_url: 'https://runbooks.example.com/disk' }, value: 0.97, startsAt: now - 600_000 },
      { fingerprint: 'f2', status: 'firing', labels: { alertname: 'DiskFull', host: 'db-2' }, annotations: {}, value: 0.93, startsAt: now - 300_000 },
    ],
    locale: 'fr-FR',
    createdAt: now,
    ...overrides,
  };
}

describe('email channel against a real SMTP server', () => {
  const peer = new SmtpPeer({ user: 'headroom', pass: PASS });
  let config: EmailConfig;
  let sender: EmailSender;

  beforeAll(async () => {
    const { host, port } = await peer.start();
    config = { host, port, secure: false, user: 'headroom', pass: PASS, from: 'Headroom <alerts@headroom.test>', timeoutMs: 5000 };
    sender = emailChannel.create(config) as EmailSender;
  });
  afterAll(async () => {
    sender.close();
    await peer.stop();
  });

  it('sends a firing group in French as HTML and plain text, the hostile label escaped', async () => {
    const result = await sender.send(notification(), { to: ['oncall@acme.test', 'ana@acme.test'] });
    expect(result).toEqual({ outcome: 'sent', thread: { message_id: expect.stringMatching(/^<.+@.+>$/) } });
    const mail = peer.messages.at(-1)!;
    expect(mail.envelope).toEqual({ from: 'alerts@headroom.test', to: ['oncall@acme.test', 'ana@acme.test'] });
    expect(mail.from).toContain('alerts@headroom.test');
    expect(mail.subject).toContain('[ALERTE]');
    expect(mail.subject).toContain('DiskFull');
    expect(mail.subject).toContain('2 alertes actives');
    expect(mail.text).toContain('Procédure: https://runbooks.example.com/disk');
    expect(mail.text).toContain('Disque plein sur <script>');
    expect(mail.html).toContain('Disque plein sur &lt;script&gt;alert(1)&lt;/script&gt;');
    expect(mail.html).not.toMatch(/<script/i);
    expect(mail.html).toContain('<a href="https://runbooks.example.com/disk">Procédure</a>');
  });

  it("threads the group's next message under the first one", async () => {
    const first = await sender.send(notification({ groupKey: 'g-thread' }), { to: ['oncall@acme.test'] });
    const thread = first.outcome === 'sent' ? first.thread : undefined;
    const second = await sender.send(notification({ groupKey: 'g-thread', status: 'resolved', reason: 'resolved', thread }), { to: ['oncall@acme.test'] });
    expect(second).toEqual({ outcome: 'sent', thread });
    const mail = peer.messages.at(-1)!;
    expect(mail.subject).toContain('[RÉSOLU]');
    expect(mail.headers.get('in-reply-to')).toBe(thread!['message_id']);
  });

  it('retries a 451 and rejects a 550', async () => {
    peer.refuseNext(1, 451);
    const err = await sender.send(notification(), { to: ['oncall@acme.test'] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetryableSendError);
    expect(err).toMatchObject({ status: 451 });

    peer.refuseNext(1, 550, 'Mailbox unavailable');
    const result = await sender.send(notification(), { to: ['oncall@acme.test'] });
    expect(result).toEqual({ outcome: 'rejected', reason: expect.stringMatching(/550.*Mailbox unavailable/) });

    const before = peer.messages.length;
    await expect(sender.send(notification(), { to: ['oncall@acme.test'] })).resolves.toMatchObject({ outcome: 'sent' });
    expect(peer.messages.length).toBe(before + 1);
  });

  it('rejects a refused login without showing the password', async () => {
    const wrong = new EmailSender({ ...config, pass: `${PASS}-old` });
    try {
      const result = await wrong.send(notification(), { to: ['oncall@acme.test'] });
      expect(result).toEqual({ outcome: 'rejected', reason: expect.stringContaining('535') });
      expect(JSON.stringify(result)).not.toContain(PASS);
    } finally {
      wrong.close();
    }
  });

  it('retries when the server cannot be reached', async () => {
    const closed = new SmtpPeer();
    const { port } = await closed.start();
    await closed.stop();
    const unreachable = new EmailSender({ ...config, port });
    try {
      const err = (await unreachable.send(notification(), { to: ['oncall@acme.test'] }).catch((e: unknown) => e)) as Error;
      expect(err).toBeInstanceOf(RetryableSendError);
      expect(err.message).not.toContain(PASS);
    } finally {
      unreachable.close();
    }
  });
});
