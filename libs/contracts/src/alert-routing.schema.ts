import { z } from 'zod';
import { DurationSchema, durationProblem, parseDuration } from './alert-rule.schema';

/**
 * A tenant's alert routing, in Alertmanager's configuration shape (snake_case, as in its YAML) so a
 * team pastes the tree it already runs: `route`, `receivers`, `inhibit_rules`, plus Headroom's
 * `escalations`. The matcher and duration grammars are Alertmanager 0.25's (libs/routing compiles
 * the matchers with `parseMatchers` from here, so the contract and the router cannot disagree); durations are alert-rule.schema's (Prometheus's).
 * Keys Alertmanager knows but Headroom does not route by (`match`, `match_re`,
 * `mute_time_intervals`…) are refused rather than ignored: ignoring them would route differently
 * from the config the team pasted.
 */

export type MatchType = '=' | '!=' | '=~' | '!~';

/** One parsed matcher: `value` is unescaped; for `=~`/`!~` it is the regex source, not yet anchored. */
export interface ParsedMatcher {
  readonly name: string;
  readonly type: MatchType;
  readonly value: string;
}

export type MatcherParseResult = { readonly ok: true; readonly matchers: ParsedMatcher[] } | { readonly ok: false; readonly error: string };

// Alertmanager 0.25's pkg/labels grammar: `=~` before `=`, value lazily up to trailing blanks (Go's \s).
const MATCHER_RE = /^[\t\n\f\r ]*([a-zA-Z_:][a-zA-Z0-9_:]*)[\t\n\f\r ]*(=~|=|!=|!~)[\t\n\f\r ]*([\s\S]*?)[\t\n\f\r ]*$/;

/**
 * One matcher (`severity="critical"`, `team=~"a|b"`, classic `foo=bar`). Escapes: `\"`, `\\`, `\n`;
 * any other backslash is literal, as in Alertmanager.
 */
export function parseMatcher(text: string): MatcherParseResult {
  const m = MATCHER_RE.exec(text);
  if (!m) return { ok: false, error: `bad matcher format: ${text}` };
  const [, name, type, raw] = m as unknown as [string, string, MatchType, string];
  let rawValue = raw;
  let expectTrailingQuote = false;
  if (rawValue.startsWith('"')) {
    rawValue = rawValue.slice(1);
    expectTrailingQuote = true;
  }
  let value = '';
  let escaped = false;
  for (let i = 0; i < rawValue.length; i++) {
    const c = rawValue[i] as string;
    if (escaped) {
      escaped = false;
      if (c === 'n') value += '\n';
      else if (c === '"' || c === '\\') value += c;
      else value += `\\${c}`;
      continue;
    }
    if (c === '\\') {
      if (i < rawValue.length - 1) escaped = true;
      else value += '\\';
    } else if (c === '"') {
      if (!expectTrailingQuote || i < rawValue.length - 1) return { ok: false, error: `matcher value contains unescaped double quote: ${raw}` };
      expectTrailingQuote = false;
    } else {
      value += c;
    }
  }
  if (expectTrailingQuote) return { ok: false, error: `matcher value contains unescaped double quote: ${raw}` };
  if (type === '=~' || type === '!~') {
    const problem = regexProblem(value);
    if (problem) return { ok: false, error: `invalid regular expression in ${text}: ${problem}` };
  }
  return { ok: true, matchers: [{ name, type, value }] };
}

/**
 * One config line, which may hold several matchers (`a="1", b=~"2"`, braces optional), as
 * Alertmanager's `matchers:` entries do. Commas inside quotes belong to the value.
 */
export function parseMatchers(text: string): MatcherParseResult {
  let s = text.startsWith('{') ? text.slice(1) : text;
  if (s.endsWith('}')) s = s.slice(0, -1);
  const tokens: string[] = [];
  let insideQuotes = false;
  let escaped = false;
  let token = '';
  for (const c of s) {
    if (c === ',' && !insideQuotes) {
      tokens.push(token);
      token = '';
      continue;
    }
    if (c === '"') {
      if (!escaped) insideQuotes = !insideQuotes;
      else escaped = false;
    } else if (c === '\\') {
      escaped = !escaped;
    } else {
      escaped = false;
    }
    token += c;
  }
  if (token.trim() !== '') tokens.push(token);
  if (tokens.length === 0) return { ok: false, error: 'empty matcher' };
  const matchers: ParsedMatcher[] = [];
  for (const t of tokens) {
    const r = parseMatcher(t);
    if (!r.ok) return r;
    matchers.push(...r.matchers);
  }
  return { ok: true, matchers };
}

/**
 * The JavaScript RegExp for an Alertmanager regex matcher: fully anchored as Alertmanager does.
 * Go's leading flag groups `(?i)`/`(?s)`/`(?m)` become RegExp flags (JavaScript has no inline
 * flags); `u` makes `.` match one code point as RE2 does, falling back without it for escapes
 * that only non-unicode mode accepts (RE2 allows escaping any punctuation).
 */
export function anchoredRegExp(source: string): RegExp {
  let flags = '';
  let body = source;
  const lead = /^\(\?([ims]+)\)/.exec(body);
  if (lead) {
    flags = [...new Set(lead[1])].join('');
    body = body.slice(lead[0].length);
  }
  try {
    return new RegExp(`^(?:${body})$`, `${flags}u`);
  } catch {
    return new RegExp(`^(?:${body})$`, flags);
  }
}

function regexProblem(source: string): string | undefined {
  try {
    anchoredRegExp(source);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** Alertmanager's defaults for the root route; children inherit from their parent instead. */
export const ROUTE_DEFAULTS = { group_wait: '30s', group_interval: '5m', repeat_interval: '4h' } as const;
export const MAX_ROUTE_DEPTH = 10;
export const MAX_ROUTE_NODES = 200;

// Malformed durations are DurationSchema's issue; this only adds Alertmanager's "cannot be zero".
const notZero = (s: string): boolean => durationProblem(s) !== undefined || parseDuration(s) !== 0;

const LabelNameSchema = z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'must be a label name ([a-zA-Z_][a-zA-Z0-9_]*)');

const MatcherLinesSchema = z.array(z.string()).superRefine((lines, ctx) => {
  lines.forEach((line, i) => {
    const r = parseMatchers(line);
    if (!r.ok) ctx.addIssue({ code: 'custom', path: [i], message: r.error });
  });
});

const LocaleSchema = z.string().refine((s) => {
  try {
    return Intl.getCanonicalLocales(s).length === 1;
  } catch {
    return false;
  }
}, 'must be a BCP 47 language tag such as en-GB');

export interface AlertRouteConfig {
  receiver?: string;
  group_by?: string[];
  group_wait?: string;
  group_interval?: string;
  repeat_interval?: string;
  matchers?: string[];
  continue?: boolean;
  routes?: AlertRouteConfig[];
  /** Headroom: name of an entry of `escalations`. */
  escalation?: string;
  /** Headroom: BCP 47 tag for the notifications of this subtree, over the tenant's locale. */
  locale?: string;
}

export const AlertRouteSchema: z.ZodType<AlertRouteConfig> = z.lazy(() =>
  z
    .object({
      receiver: z.string().min(1).optional(),
      group_by: z
        .array(z.union([z.literal('...'), LabelNameSchema]))
        .refine((g) => !g.includes('...') || g.length === 1, 'group_by `...` (all labels) cannot be combined with label names')
        .optional(),
      group_wait: DurationSchema.optional(),
      group_interval: DurationSchema.refine(notZero, 'group_interval cannot be zero').optional(),
      repeat_interval: DurationSchema.refine(notZero, 'repeat_interval cannot be zero').optional(),
      matchers: MatcherLinesSchema.optional(),
      continue: z.boolean().optional(),
      routes: z.array(AlertRouteSchema).optional(),
      escalation: z.string().min(1).optional(),
      locale: LocaleSchema.optional(),
    })
    .strict(),
);

/**
 * The one list of which receiver fields are secrets, per channel type (the `<type>` of `<type>_configs`).
 * Control seals them before storing and publishing, alerting opens them, the channels redact them
 * (libs/tenancy receiver-secrets.ts): a field added here is handled everywhere.
 */
export const RECEIVER_SECRET_FIELDS: Readonly<Record<'slack' | 'pagerduty' | 'email' | 'webhook' | 'sms', readonly string[]>> = Object.freeze({
  slack: Object.freeze(['bot_token']),
  pagerduty: Object.freeze(['routing_key']),
  email: Object.freeze([]),
  webhook: Object.freeze(['secret']),
  sms: Object.freeze(['token']),
});

const ChannelConfigsSchema = z.array(z.record(z.unknown())).optional();

export const AlertReceiverSchema = z
  .object({
    name: z.string().min(1, 'a receiver needs a name'),
    slack_configs: ChannelConfigsSchema,
    pagerduty_configs: ChannelConfigsSchema,
    email_configs: ChannelConfigsSchema,
    webhook_configs: ChannelConfigsSchema,
    sms_configs: ChannelConfigsSchema,
    /** Headroom: the receiver notified instead when every channel of this one failed. */
    failover: z.string().min(1).optional(),
  })
  .strict();
export type AlertReceiver = z.infer<typeof AlertReceiverSchema>;

export const InhibitRuleSchema = z
  .object({
    source_matchers: MatcherLinesSchema,
    target_matchers: MatcherLinesSchema,
    equal: z.array(LabelNameSchema).default([]),
  })
  .strict();
export type InhibitRuleConfig = z.infer<typeof InhibitRuleSchema>;

export const EscalationPolicySchema = z
  .object({
    name: z.string().min(1),
    steps: z
      .array(z.object({ receivers: z.array(z.string().min(1)).min(1), after: DurationSchema }).strict())
      .min(1, 'an escalation needs at least one step'),
    /** Times the whole sequence runs again while the alert stays unacknowledged. */
    repeat: z.number().int().min(0).max(10).default(0),
  })
  .strict();
export type EscalationPolicy = z.infer<typeof EscalationPolicySchema>;

type Path = (string | number)[];

/** Every route node with its path from the config root, depth-first; depth 1 is the root. */
function walkRoutes(route: AlertRouteConfig, visit: (node: AlertRouteConfig, path: Path, depth: number) => void, path: Path = ['route'], depth = 1): void {
  visit(route, path, depth);
  route.routes?.forEach((child, i) => walkRoutes(child, visit, [...path, 'routes', i], depth + 1));
}

export const AlertRoutingSchema = z
  .object({
    route: AlertRouteSchema,
    receivers: z.array(AlertReceiverSchema).min(1, 'at least one receiver is required'),
    inhibit_rules: z.array(InhibitRuleSchema).default([]),
    escalations: z.array(EscalationPolicySchema).default([]),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const issue = (path: Path, message: string): void => ctx.addIssue({ code: 'custom', path, message });
    const receiverIndex = new Map<string, number>();
    cfg.receivers.forEach((r, i) => {
      if (receiverIndex.has(r.name)) issue(['receivers', i, 'name'], `duplicate receiver name "${r.name}" (also receivers[${receiverIndex.get(r.name)}])`);
      else receiverIndex.set(r.name, i);
    });
    const escalationNames = new Set<string>();
    cfg.escalations.forEach((e, i) => {
      if (escalationNames.has(e.name)) issue(['escalations', i, 'name'], `duplicate escalation name "${e.name}"`);
      escalationNames.add(e.name);
      e.steps.forEach((s, j) =>
        s.receivers.forEach((name, k) => {
          if (!receiverIndex.has(name)) issue(['escalations', i, 'steps', j, 'receivers', k], `undefined receiver "${name}"`);
        }),
      );
    });
    cfg.receivers.forEach((r, i) => {
      if (r.failover === undefined) return;
      if (!receiverIndex.has(r.failover)) issue(['receivers', i, 'failover'], `undefined receiver "${r.failover}"`);
      else if (failsOverToItself(r.name, cfg.receivers)) issue(['receivers', i, 'failover'], `failover chain of "${r.name}" comes back to it`);
    });

    const root = cfg.route;
    if (!root.receiver) issue(['route', 'receiver'], 'the root route needs a receiver (the default for every alert)');
    if (root.matchers?.length) issue(['route', 'matchers'], 'the root route must not have matchers (it receives every alert)');
    if (root.continue) issue(['route', 'continue'], 'the root route cannot have continue');
    let nodes = 0;
    let tooDeep = false;
    walkRoutes(root, (node, path, depth) => {
      nodes++;
      if (depth > MAX_ROUTE_DEPTH && !tooDeep) {
        tooDeep = true;
        issue(path, `routes nest at most ${MAX_ROUTE_DEPTH} levels deep`);
      }
      if (node.receiver !== undefined && !receiverIndex.has(node.receiver)) issue([...path, 'receiver'], `undefined receiver "${node.receiver}"`);
      if (node.escalation !== undefined && !escalationNames.has(node.escalation)) issue([...path, 'escalation'], `undefined escalation "${node.escalation}"`);
    });
    if (nodes > MAX_ROUTE_NODES) issue(['route'], `the route tree has ${nodes} nodes; at most ${MAX_ROUTE_NODES}`);
  });
export type AlertRoutingInput = z.input<typeof AlertRoutingSchema>;
export type AlertRouting = z.infer<typeof AlertRoutingSchema>;

function failsOverToItself(start: string, receivers: readonly AlertReceiver[]): boolean {
  const next = new Map(receivers.map((r) => [r.name, r.failover]));
  const seen = new Set<string>([start]);
  for (let cur = next.get(start); cur !== undefined; cur = next.get(cur)) {
    if (cur === start) return true;
    if (seen.has(cur)) return false;
    seen.add(cur);
  }
  return false;
}
