import { z } from 'zod';
import { FiniteNumberSchema, safeText } from './common.schema';

const DURATION_UNITS_MS = { y: 365 * 86_400_000, w: 7 * 86_400_000, d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000, ms: 1 } as const;
type DurationUnit = keyof typeof DURATION_UNITS_MS;
const UNIT_ORDER: readonly DurationUnit[] = ['y', 'w', 'd', 'h', 'm', 's', 'ms'];
const DURATION_PART = /(\d+)(ms|y|w|d|h|m|s)/y;

/**
 * Milliseconds of a Prometheus duration (`30s`, `5m`, `1h30m`, `250ms`, `0`): units from largest to
 * smallest, each at most once, as Prometheus's own parser demands (so a rule copied from a
 * Prometheus file means the same here). Throws a RangeError that names the offending input.
 */
export function parseDuration(s: string): number {
  const problem = durationProblem(s);
  if (problem !== undefined) throw new RangeError(`invalid duration ${JSON.stringify(s)}: ${problem}`);
  return durationMs(s);
}

function durationMs(s: string): number {
  if (s === '0') return 0;
  let total = 0;
  DURATION_PART.lastIndex = 0;
  for (let m = DURATION_PART.exec(s); m; m = DURATION_PART.exec(s)) total += Number(m[1]) * DURATION_UNITS_MS[m[2] as DurationUnit];
  return total;
}

/** Why `s` is not a duration, or undefined when it is one. */
export function durationProblem(s: string): string | undefined {
  if (s === '0') return undefined;
  if (s === '') return 'empty; write e.g. 30s, 5m or 1h30m';
  let at = 0;
  let lastUnit = -1;
  DURATION_PART.lastIndex = 0;
  while (at < s.length) {
    DURATION_PART.lastIndex = at;
    const m = DURATION_PART.exec(s);
    if (!m) return `unexpected ${JSON.stringify(s.slice(at))}; write a number followed by one of ms, s, m, h, d, w, y (e.g. 1h30m)`;
    const unit = UNIT_ORDER.indexOf(m[2] as DurationUnit);
    if (unit <= lastUnit) return `unit "${m[2]}" must come after larger units, each unit at most once (e.g. 1h30m, not 30m1h)`;
    lastUnit = unit;
    at = DURATION_PART.lastIndex;
  }
  if (!Number.isSafeInteger(durationMs(s))) return 'too long';
  return undefined;
}

export const DurationSchema = z.string().max(64).superRefine((s, ctx) => {
  const problem = durationProblem(s);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: `must be a duration such as 30s, 5m or 1h30m: ${problem}` });
});

/** Prometheus label-name syntax; `__`-prefixed names are reserved for the system, as in Prometheus. */
const RuleLabelNameSchema = z
  .string()
  .regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'must match [a-zA-Z_][a-zA-Z0-9_]* (Prometheus label name)')
  .max(128)
  .refine((k) => !k.startsWith('__'), 'names starting with __ are reserved');

const boundedRecord = <V extends z.ZodTypeAny>(value: V, max: number) =>
  z.record(RuleLabelNameSchema, value).refine((r) => Object.keys(r).length <= max, `at most ${max} entries`);

/**
 * One alert rule of a tenant: a PromQL-like expression over the tenant's closed aggregate windows
 * (grammar in libs/rules/README.md). Strict, so a misspelt field (`keep_firing_for`) is an error
 * rather than a rule that silently behaves differently.
 */
export const AlertRuleSchema = z
  .object({
    id: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, 'must be 1-64 chars of a-z, A-Z, 0-9, _ and -'),
    expr: z.string().min(1).max(2000),
    for: DurationSchema.optional(),
    keepFiringFor: DurationSchema.optional(),
    /** Hysteresis: once firing, the alert holds while the compared value is beyond this, not the firing threshold. */
    resolveThreshold: FiniteNumberSchema.optional(),
    severity: z.enum(['critical', 'warning', 'info', 'security']).default('warning'),
    labels: boundedRecord(safeText(z.string().max(256)), 32).optional(),
    // Annotations are prose (descriptions span lines), so only NUL, which PostgreSQL text refuses, is out.
    annotations: boundedRecord(z.string().max(2000).refine((v) => !v.includes('\u0000'), 'must not contain NUL'), 32).optional(),
    runbookUrl: z
      .string()
      .max(2000)
      .url()
      .refine((u) => /^https?:\/\//i.test(u), 'must be an http(s) URL')
      .optional(),
  })
  .strict();
export type AlertRule = z.infer<typeof AlertRuleSchema>;
/** What a tenant writes: `severity` may be left out. */
export type AlertRuleInput = z.input<typeof AlertRuleSchema>;
