import { createTransport, type Transporter } from 'nodemailer';
import { RECEIVER_SECRET_FIELDS } from '@headroom/contracts';
import { z } from 'zod';
import { RetryableSendError, type ChannelSender, type ChannelType, type ConfigProblem, type GroupNotification, type SendResult } from '../channel';
import { renderNotification, type RenderedNotification } from '../../i18n/render';

export interface EmailConfig {
  host: string;
  port: number;
  /** TLS from the first byte (port 465); otherwise STARTTLS when the server offers it. */
  secure: boolean;
  user?: string;
  /** Secret: never in messages or logs. */
  pass?: string;
  /** The From address, e.g. `Headroom alerts <alerts@example.com>`. */
  from: string;
  timeoutMs: number;
}

const Address = z.string().email('must be an e-mail address such as oncall@example.com').max(254);

export const EmailTargetSchema = z.object({ to: z.array(Address).min(1).max(20) }).strict();
export type EmailTarget = z.infer<typeof EmailTargetSchema>;

/**
 * HTML-escapes text for element content and quoted attributes. Written here rather than imported:
 * it is five replacements, and no HTML-escaping package is among the project's dependencies.
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** A header value on one line: a CR or LF in tenant text would otherwise start a header of its own. */
export function headerText(text: string): string {
  return text.replace(/[\r\n\u0000-\u001f\u007f]+/g, ' ').trim();
}

/** Only http(s) URLs become links: a tenant-written `javascript:` runbook URL stays text. */
function safeHref(href: string | undefined): string | undefined {
  if (!href) return undefined;
  try {
    const url = new URL(href);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.toString() : undefined;
  } catch {
    return undefined;
  }
}

/** Subject, plain text and HTML from the rendered (localised) notification; every tenant string is escaped in the HTML. */
export function emailContent(n: GroupNotification, r: RenderedNotification = renderNotification(n)): { subject: string; text: string; html: string } {
  const ack = safeHref(n.ackUrl);
  const text = [
    r.title,
    '',
    ...r.alerts.flatMap((a) => [`* ${a.headline}`, ...a.details.map((d) => `  ${d}`), ...(a.runbookUrl ? [`  ${r.actions.runbook}: ${a.runbookUrl}`] : []), '']),
    ...(ack ? [`${r.actions.acknowledge}: ${ack}`] : []),
  ].join('\n');
  const items = r.alerts
    .map((a) => {
      const href = safeHref(a.runbookUrl);
      const runbook = href ? `<li><a href="${escapeHtml(href)}">${escapeHtml(r.actions.runbook)}</a></li>` : '';
      return `<li><strong>${escapeHtml(a.headline)}</strong><ul>${a.details.map((d) => `<li>${escapeHtml(d)}</li>`).join('')}${runbook}</ul></li>`;
    })
    .join('\n');
  const html = [
    `<!doctype html><html lang="${escapeHtml(r.language)}"><head><meta charset="utf-8"><title>${escapeHtml(r.title)}</title></head><body>`,
    `<h2>${escapeHtml(r.title)}</h2>`,
    `<ul>\n${items}\n</ul>`,
    ack ? `<p><a href="${escapeHtml(ack)}">${escapeHtml(r.actions.acknowledge)}</a></p>` : '',
    '</body></html>',
  ].join('\n');
  return { subject: headerText(r.short), text, html };
}

/** Nodemailer's error fields that matter here (its `NodemailerError`). */
interface SmtpError extends Error {
  code?: string;
  responseCode?: number;
}

/** Failures of our own making (bad config, bad address) that resending the same message would repeat. */
const PERMANENT_CODES = new Set(['ECONFIG', 'EENVELOPE', 'EMAXRECIPIENTS', 'ENOAUTH']);

/**
 * SMTP 4xx (and 503, a session out of step) → retryable; other 5xx → rejected; no reply at all
 * (connection refused, TLS, timeout) → retryable. The message keeps the server's reply, never the password.
 */
export function classifySmtpError(err: unknown, secrets: readonly (string | undefined)[] = []): SendResult {
  const e = err as SmtpError;
  let message = `smtp: ${e.code ?? 'error'}${e.responseCode ? ` ${e.responseCode}` : ''}: ${headerText(String(e.message ?? err))}`;
  for (const secret of secrets) if (secret) message = message.split(secret).join('[redacted]');
  const code = e.responseCode;
  if (code !== undefined && code >= 500 && code !== 503) return { outcome: 'rejected', reason: message };
  if (code === undefined && e.code && PERMANENT_CODES.has(e.code)) return { outcome: 'rejected', reason: message };
  throw new RetryableSendError(message, undefined, code);
}

export class EmailSender implements ChannelSender<EmailTarget> {
  private readonly transport: Transporter;

  constructor(private readonly config: EmailConfig) {
    this.transport = createTransport({
      host: config.host,
      port: config.port,
      secure: config.secure,
      auth: config.user ? { user: config.user, pass: config.pass } : undefined,
      connectionTimeout: config.timeoutMs,
      greetingTimeout: config.timeoutMs,
      socketTimeout: config.timeoutMs,
      // Nodemailer logs nothing unless asked; say so, since a debug log would include the AUTH exchange.
      logger: false,
      debug: false,
    });
  }

  async send(n: GroupNotification, target: EmailTarget): Promise<SendResult> {
    const { subject, text, html } = emailContent(n);
    try {
      const info = await this.transport.sendMail({
        from: this.config.from,
        to: target.to,
        subject,
        text,
        html,
        // Threads the group's messages in the reader's mail client.
        ...(n.thread?.['message_id'] ? { inReplyTo: n.thread['message_id'], references: n.thread['message_id'] } : {}),
        headers: { 'X-Headroom-Notification': n.id },
        // A deadline for the whole exchange: connect, greeting and data each have timeoutMs above.
        signal: AbortSignal.timeout(this.config.timeoutMs * 3),
      });
      return { outcome: 'sent', thread: { message_id: n.thread?.['message_id'] ?? String(info.messageId) } };
    } catch (err) {
      return classifySmtpError(err, [this.config.pass]);
    }
  }

  close(): void {
    this.transport.close();
  }
}

export const emailChannel: ChannelType<EmailConfig, EmailTarget> = {
  type: 'email',
  defaultConfig: () => ({ host: 'localhost', port: 587, secure: false, from: '', timeoutMs: 15_000 }),
  validate(config) {
    const problems: ConfigProblem[] = [];
    if (typeof config.host !== 'string' || config.host.trim() === '') problems.push({ path: 'host', message: 'is required: the SMTP server name' });
    if (!Number.isInteger(config.port) || config.port < 1 || config.port > 65535) problems.push({ path: 'port', message: 'must be a port number (1-65535)' });
    if (typeof config.secure !== 'boolean') problems.push({ path: 'secure', message: 'must be true (TLS from the start, port 465) or false (STARTTLS)' });
    if (config.pass && !config.user) problems.push({ path: 'user', message: 'is required when a password is set' });
    if (config.user && !config.pass) problems.push({ path: 'pass', message: 'is required when a user is set' });
    const from = /<([^<>]+)>\s*$/.exec(config.from ?? '')?.[1] ?? config.from;
    if (!Address.safeParse(from).success || /[\r\n]/.test(config.from ?? '')) problems.push({ path: 'from', message: 'must be an address such as "Headroom <alerts@example.com>"' });
    if (!Number.isInteger(config.timeoutMs) || config.timeoutMs <= 0) problems.push({ path: 'timeoutMs', message: 'must be a positive integer (milliseconds)' });
    return problems;
  },
  targetSchema: EmailTargetSchema,
  secretFields: RECEIVER_SECRET_FIELDS.email,
  create: (config) => new EmailSender(config),
};
