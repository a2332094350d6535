import { BadRequestException } from '@nestjs/common';
import { z } from 'zod';
import {
  AlertConfigRecordSchema,
  AlertRuleSchema,
  AnomalyAlertingSchema,
  ApiKeyScopeSchema,
  TenantIdSchema,
  TenantLimitsSchema,
  ThresholdRuleSchema,
  type AlertRule,
} from '@headroom/contracts';
// The very compiler alerting runs: a second parser would accept what alerting then refuses.
import { compileRule, RuleSyntaxError, RuleValidationError } from '@headroom/rules';
import { REDACTED_SECRET, redactedSecretPaths } from '@headroom/tenancy';

/** What a rule's expression problem adds to its issue: where it is, and the expression with a caret under it. */
export interface ExpressionProblem {
  line: number;
  column: number;
  reason: string;
  detail: string;
}

/** A 400's issue: `{ path, message }` as every endpoint answers, plus the position for an expression. */
export type RequestIssue = { path: string; message: string } & Partial<ExpressionProblem>;

/**
 * Compiles the rule exactly as alerting will. Schema problems were already reported by AlertRuleSchema,
 * so what is left is the expression (syntax, types) and what depends on it (resolveThreshold's side).
 */
function addRuleProblems(rule: AlertRule, ctx: z.RefinementCtx): void {
  try {
    compileRule(rule);
  } catch (err) {
    if (err instanceof RuleSyntaxError) {
      // toString() is the message, then the expression line and the caret line: the message is already `message`.
      const detail = err.toString().split('\n').slice(1).join('\n');
      const params: ExpressionProblem = { line: err.line, column: err.column, reason: err.reason, detail };
      ctx.addIssue({ code: 'custom', path: ['expr'], message: err.message, params });
    } else if (err instanceof RuleValidationError) {
      for (const i of err.issues) ctx.addIssue({ code: 'custom', path: i.path === '(root)' ? [] : i.path.split('.'), message: i.message });
    } else {
      throw err;
    }
  }
}

export const AlertConfigBodySchema = z
  .object({
    slackChannel: z.string().regex(/^[#@]?[a-zA-Z0-9._-]{1,80}$/, 'must be a Slack channel name or id').optional(),
    rules: z.array(ThresholdRuleSchema).max(500).default([]),
    /** Each compiled on its own, so one bad rule does not hide another's problem. */
    alertRules: z.array(AlertRuleSchema.superRefine(addRuleProblems)).max(500).optional(),
    // The contract's own schemas: unknown receivers and escalations are its issues, with their paths.
    routing: AlertConfigRecordSchema.shape.routing,
    templates: AlertConfigRecordSchema.shape.templates,
    /** Absent: anomaly signals page nobody (see docs/alerting.md). */
    anomalies: AnomalyAlertingSchema.strict().optional(),
    signalRules: AlertConfigRecordSchema.shape.signalRules,
  })
  .strict()
  .superRefine((body, ctx) => {
    // One id space: alerting keys state, fingerprints and silences by rule id, legacy and expression rules alike.
    const seen = new Map<string, string>();
    const check = (field: 'rules' | 'alertRules' | 'signalRules', id: string, i: number) => {
      const first = seen.get(id);
      if (first !== undefined) ctx.addIssue({ code: 'custom', path: [field, i, 'id'], message: `duplicate rule id "${id}" (also ${first})` });
      else seen.set(id, `${field}.${i}.id`);
    };
    body.rules.forEach((r, i) => check('rules', r.id, i));
    body.alertRules?.forEach((r, i) => check('alertRules', r.id, i));
    body.signalRules?.forEach((r, i) => check('signalRules', r.id, i));
    // An answer echoed back would otherwise store `***` as the bot token: stored secrets are never
    // returned, so keeping one means sending it again.
    for (const path of body.routing ? redactedSecretPaths(body.routing) : []) {
      ctx.addIssue({ code: 'custom', path: ['routing', ...path.split('.')], message: `"${REDACTED_SECRET}" is the redaction placeholder: send the secret itself (a PUT replaces every stored secret)` });
    }
  });

/**
 * parseBody's answer (400, `{ error: 'invalid_request', issues: [{ path, message }] }`, every problem),
 * where an expression's issue also carries its line, column, reason and caret rendering.
 */
export function parseRequestBody<S extends z.ZodTypeAny>(schema: S, body: unknown): z.infer<S> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issues: RequestIssue[] = result.error.issues.map((i) => {
    const issue: RequestIssue = { path: i.path.length ? i.path.join('.') : '(root)', message: i.message };
    const p = i.code === 'custom' ? (i.params as Partial<ExpressionProblem> | undefined) : undefined;
    if (p?.detail !== undefined) Object.assign(issue, { line: p.line, column: p.column, reason: p.reason, detail: p.detail });
    return issue;
  });
  throw new BadRequestException({ error: 'invalid_request', issues });
}

export const CreateTenantBodySchema = z
  .object({
    id: TenantIdSchema,
    displayName: z.string().min(1).max(200),
    locale: z.string().regex(/^[a-z]{2}(-[A-Z]{2})?$/, 'must be a BCP 47 tag like fr or fr-FR').default('en'),
    shards: z.number().int().min(1).max(64).default(1),
    limits: TenantLimitsSchema.optional(),
    alerting: AlertConfigBodySchema.optional(),
  })
  .strict();
export type CreateTenantBody = z.infer<typeof CreateTenantBodySchema>;

export const CreateApiKeyBodySchema = z.object({ scopes: z.array(ApiKeyScopeSchema).min(1).default(['ingest']) }).strict();
export type AlertConfigBody = z.infer<typeof AlertConfigBodySchema>;

/**
 * PATCH /v1/tenants/:id/limits: any limit of TenantLimitsSchema (its bounds apply), merged over the
 * tenant's current overrides; `null` removes an override (back to the deployment default).
 */
export const LimitsPatchBodySchema = z
  .object(
    Object.fromEntries(Object.entries(TenantLimitsSchema.shape).map(([k, v]) => [k, v.unwrap().nullable().optional()])) as {
      [K in keyof typeof TenantLimitsSchema.shape]: z.ZodOptional<z.ZodNullable<ReturnType<(typeof TenantLimitsSchema.shape)[K]['unwrap']>>>;
    },
  )
  .strict()
  .refine((b) => Object.keys(b).length > 0, { message: 'name at least one limit (see docs/limits.md)', path: [] });
export type LimitsPatchBody = z.infer<typeof LimitsPatchBodySchema>;
