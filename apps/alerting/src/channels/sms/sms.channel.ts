import { RECEIVER_SECRET_FIELDS } from '@headroom/contracts';
import { z } from 'zod';
import type { ChannelSender, ChannelType, ConfigProblem, GroupNotification, SendResult } from '../channel';
import { renderNotification } from '../../i18n/render';
import { checkEgressAllow, EgressPolicy } from '../egress';
import { checkTimeout, classify, excerpt, isPlainHttpUrl, post, redact, type Fetch } from '../webhook/http-delivery';

export interface SmsConfig {
  timeoutMs: number;
  /** CIDRs the provider URL may resolve to although not public unicast (see ../egress.ts). */
  egressAllow: string[];
}

/** E.164: a plus, a country code that does not start with 0, at most 15 digits in all. */
const E164 = /^\+[1-9]\d{1,14}$/;

export const SmsTargetSchema = z
  .object({
    /** The provider's send endpoint (a form POST of `to`, `body`, `reference`, bearer-token auth). */
    url: z.string().superRefine((value, ctx) => {
      const check = isPlainHttpUrl(value);
      if (!check.ok) ctx.addIssue({ code: z.ZodIssueCode.custom, message: check.message });
    }),
    to: z.array(z.string().regex(E164, 'must be an E.164 number such as +33612345678')).min(1).max(10),
    token: z.string().min(1).max(512),
  })
  .strict();

export type SmsTarget = z.infer<typeof SmsTargetSchema>;

export const SMS_MAX_CHARS = 160;

/**
 * At most `max` characters (code points), cut between grapheme clusters so neither a surrogate pair
 * nor a composed emoji is split; an ellipsis marks the cut. Control characters (CR, LF…) become
 * spaces: the text is one line whatever the tenant's labels hold.
 */
export function smsText(text: string, max = SMS_MAX_CHARS): string {
  const flat = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ');
  if (Array.from(flat).length <= max) return flat;
  let out = '';
  let count = 0;
  for (const { segment } of new Intl.Segmenter(undefined, { granularity: 'grapheme' }).segment(flat)) {
    const size = Array.from(segment).length;
    if (count + size > max - 1) break;
    out += segment;
    count += size;
  }
  return `${out}…`;
}

/** Masks a number for messages and logs: a phone number is personal data. */
function masked(number: string): string {
  return `…${number.slice(-4)}`;
}

export class SmsSender implements ChannelSender<SmsTarget> {
  private readonly fetchFn: Fetch;

  constructor(
    private readonly config: SmsConfig,
    deps: { fetch?: Fetch } = {},
  ) {
    // The tenant chooses the provider URL: only the egress policy's fetch may reach it.
    this.fetchFn = deps.fetch ?? new EgressPolicy(config.egressAllow).fetch();
  }

  /**
   * One POST per number, each with its own Idempotency-Key: a retry after a partial failure resends
   * to every number, and a provider that honours the key drops the duplicates.
   */
  async send(n: GroupNotification, target: SmsTarget): Promise<SendResult> {
    const body = smsText(renderNotification(n).short);
    const refused: string[] = [];
    for (const to of target.to) {
      const answer = await post(this.fetchFn, target.url, {
        what: 'sms provider',
        timeoutMs: this.config.timeoutMs,
        body: new URLSearchParams({ to, body, reference: n.id }).toString(),
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Bearer ${target.token}`,
          'user-agent': 'Headroom-Alerting',
          'Idempotency-Key': `${n.id}:${to}`,
        },
      });
      const outcome = classify(answer, 'sms provider', redact(excerpt(answer.text), [target.token, to]));
      if (outcome !== 'sent') refused.push(`${masked(to)}: ${outcome.rejected}`);
    }
    return refused.length ? { outcome: 'rejected', reason: `refused for ${refused.length} of ${target.to.length} numbers (${refused.join('; ')})` } : { outcome: 'sent' };
  }
}

export const smsChannel: ChannelType<SmsConfig, SmsTarget> = {
  type: 'sms',
  defaultConfig: () => ({ timeoutMs: 10_000, egressAllow: [] }),
  validate(config) {
    const problems: ConfigProblem[] = [];
    checkTimeout(problems, config.timeoutMs);
    checkEgressAllow(problems, config.egressAllow);
    return problems;
  },
  targetSchema: SmsTargetSchema,
  secretFields: RECEIVER_SECRET_FIELDS.sms,
  create: (config) => new SmsSender(config),
};
