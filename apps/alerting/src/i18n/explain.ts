import { z } from 'zod';
import type { LocaleFormatter } from './format';
import type { Messages } from './messages';

const direction = z.enum(['above', 'below']);

/**
 * The seasonal detector's explanation as data, so it can be worded in the reader's language instead
 * of the detector's English sentence. Carried in an alert's `explanation_json` annotation.
 */
const base = { detector: z.literal('seasonal'), metric: z.string().min(1).max(300) };

export const seasonalExplanationSchema = z.discriminatedUnion('kind', [
  z.object({
    ...base,
    /** `point`: this value is far from the expected one; `shift`: the level has moved for several points. */
    kind: z.enum(['point', 'shift']),
    value: z.number(),
    unit: z.string().max(20).optional(),
    sigma: z.number(),
    direction,
    expected: z.number(),
    /** Epoch ms of the seasonal slot compared against (shown as weekday and time). */
    slot: z.number(),
    /** Beyond the recent extremes: `fraction` of the usual range past `edge`. */
    range: z.object({ direction, edge: z.number(), fraction: z.number() }).optional(),
    /** The recent mix of values matches none of the remembered patterns. */
    entropy: z.object({ window: z.number().int(), patterns: z.number().int() }).optional(),
  }),
  z.object({ ...base, kind: z.literal('warmup'), seen: z.number().int(), needed: z.number().int() }),
  z.object({ ...base, kind: z.literal('missing') }),
]);
export type SeasonalExplanation = z.infer<typeof seasonalExplanationSchema>;

/** The explanation in the reader's language, e.g. `api_latency_ms at 412 ms is 6.3 σ above the expected 120 ms for Tue 02:00 PM`. */
export function explainSeasonal(e: SeasonalExplanation, messages: Messages, fmt: LocaleFormatter): string {
  if (e.kind === 'missing') return messages.text('anomaly.seasonal.missing', { metric: e.metric });
  if (e.kind === 'warmup') return messages.text('anomaly.seasonal.warmup', { metric: e.metric, seen: fmt.number(e.seen), needed: fmt.number(e.needed) });
  const withUnit = (v: number) => (e.unit ? `${fmt.number(v)} ${e.unit}` : fmt.number(v));
  const clauses = [
    messages.text(e.kind === 'point' ? 'anomaly.seasonal.point' : 'anomaly.seasonal.shift', {
      metric: e.metric,
      value: withUnit(e.value),
      sigma: fmt.number(Math.round(Math.abs(e.sigma) * 10) / 10),
      direction: e.direction,
      expected: withUnit(e.expected),
      when: fmt.slot(e.slot),
    }),
  ];
  if (e.range) {
    clauses.push(messages.text('anomaly.seasonal.range', { direction: e.range.direction, edge: withUnit(e.range.edge), percent: fmt.percent(e.range.fraction) }));
  }
  if (e.entropy) {
    clauses.push(messages.text('anomaly.seasonal.entropy', { window: fmt.number(e.entropy.window), patterns: fmt.number(e.entropy.patterns) }));
  }
  // "A, B and C" / "A, B et C": the locale's own conjunction joins the clauses.
  return new Intl.ListFormat(fmt.locale, { type: 'conjunction' }).format(clauses);
}

/** Reads an `explanation_json` annotation; anything else (absent, not JSON, another shape) is undefined. */
export function parseExplanation(json: string | undefined): SeasonalExplanation | undefined {
  if (!json) return undefined;
  try {
    const parsed = seasonalExplanationSchema.safeParse(JSON.parse(json));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
