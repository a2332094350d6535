import type { AddressInfo } from 'node:net';
import { simpleParser, type AddressObject } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  /** The envelope (MAIL FROM / RCPT TO), what the server acted on. */
  envelope: { from: string; to: string[] };
  /** Parsed headers and bodies, what the reader sees. */
  from: string;
  to: string[];
  subject: string;
  text: string;
  html: string;
  headers: Map<string, unknown>;
}

/**
 * A real SMTP server (nodemailer's `smtp-server`) on a loopback port; each accepted message is parsed
 * with `mailparser`. It can be told to refuse the next messages with a given reply (451: try later;
 * 550: refused for good), as a mail relay would. Plain SMTP, optional AUTH with one user.
 */
export class SmtpPeer {
  readonly messages: ReceivedMail[] = [];
  private server: SMTPServer | undefined;
  private refusals: { code: number; text: string }[] = [];

  constructor(private readonly credentials?: { user: string; pass: string }) {}

  async start(): Promise<{ host: string; port: number }> {
    this.server = new SMTPServer({
      secure: false,
      disabledCommands: this.credentials ? ['STARTTLS'] : ['STARTTLS', 'AUTH'],
      allowInsecureAuth: true,
      authOptional: !this.credentials,
      logger: false,
      onAuth: (auth, _session, callback) => {
        if (auth.username === this.credentials?.user && auth.password === this.credentials?.pass) callback(null, { user: auth.username });
        else callback(Object.assign(new Error('Authentication credentials invalid'), { responseCode: 535 }));
      },
      onData: (stream, session, callback) => {
        const refusal = this.refusals.shift();
        // The whole message is read either way: the reply to DATA comes after its end.
        void simpleParser(stream).then(
          (mail) => {
            if (refusal) return callback(Object.assign(new Error(refusal.text), { responseCode: refusal.code }));
            this.messages.push({
              envelope: {
                from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
                to: session.envelope.rcptTo.map((r) => r.address),
              },
              from: mail.from?.text ?? '',
              to: addresses(mail.to),
              subject: mail.subject ?? '',
              text: mail.text ?? '',
              html: mail.html || '',
              headers: mail.headers as Map<string, unknown>,
            });
            callback();
          },
          (err: Error) => callback(err),
        );
      },
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return this.address();
  }

  address(): { host: string; port: number } {
    const { port } = this.server!.server.address() as AddressInfo;
    return { host: '127.0.0.1', port };
  }

  /** The next `times` messages get this reply to DATA instead of 250 (e.g. 451 or 550). */
  refuseNext(times: number, code: number, text = code >= 500 ? 'Message rejected' : 'Try again later'): void {
    for (let i = 0; i < times; i++) this.refusals.push({ code, text });
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

function addresses(to: AddressObject | AddressObject[] | undefined): string[] {
  if (!to) return [];
  return (Array.isArray(to) ? to : [to]).flatMap((o) => o.value.map((v) => v.address ?? ''));
}
