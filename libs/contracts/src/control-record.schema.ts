import { z } from 'zod';
import { defineMessage } from './message';
import { FiniteNumberSchema, IsoDateSchema, MetricNameSchema, TenantIdSchema } from './common.schema';
import { Topics } from './topics';
import { TenantLimitsSchema } from './tenant-limits.schema';
import { AlertRuleSchema, DurationSchema } from './alert-rule.schema';
import { AlertRoutingSchema } from './alert-routing.schema';
import { TenantDetectorsSchema } from './signal.schema';
import { ErasureIdSchema, SubjectPseudonymSchema } from './erasure.schema';

/**
 * Records on the compacted headroom.control.v1. The record key (see `controlKey`) makes the latest
 * value per entity win; a tombstone (null value) deletes it. Other services learn tenants, API keys,
 * data keys and alert configuration from this topic only.
 */

export const TenantRecordSchema = z.object({
  kind: z.literal('tenant'),
  tenant: TenantIdSchema,
  displayName: z.string().min(1).max(200),
  status: z.enum(['active', 'suspended']),
  /** Partitions a huge tenant spreads over (key `tenant#k`); each series stays on one. */
  shards: z.number().int().min(1).max(64),
  locale: z.string().regex(/^[a-z]{2}(-[A-Z]{2})?$/, 'must be a BCP 47 tag like fr or fr-FR'),
  /** Overrides of the deployment's default limits (tenant-limits.schema.ts); absent fields take the default. */
  limits: TenantLimitsSchema.optional(),
  /** Which detectors analytics runs for the tenant (signal.schema.ts); absent, the deployment's defaults. */
  detectors: TenantDetectorsSchema.optional(),
  createdAt: IsoDateSchema,
});

export const ApiKeyScopeSchema = z.enum(['ingest', 'read', 'admin']);
export type ApiKeyScope = z.infer<typeof ApiKeyScopeSchema>;

export const ApiKeyRecordSchema = z.object({
  kind: z.literal('api_key'),
  keyId: z.string().regex(/^[a-z0-9]{8,32}$/),
  tenant: TenantIdSchema,
  /**
   * Digest (hex) of the full secret: the secret itself never leaves control's response. `hmac-sha256`
   * (keys made since): HMAC under the platform's API-key MAC key `macVersion` (an `api_key_mac`
   * record, wrapped by the KEK), so a copy of the topic or of control's tables alone cannot test a
   * guessed key. Absent (`sha256`): a plain SHA-256, keys made before (still verified).
   */
  hash: z.enum(['sha256', 'hmac-sha256']).optional(),
  macVersion: z.number().int().positive().optional(),
  secretHash: z.string().regex(/^[0-9a-f]{64}$/),
  scopes: z.array(ApiKeyScopeSchema).min(1),
  createdAt: IsoDateSchema,
  revokedAt: IsoDateSchema.optional(),
});

export const DataKeyRecordSchema = z.object({
  kind: z.literal('data_key'),
  tenant: TenantIdSchema,
  purpose: z.enum(['data', 'pseudonym']),
  version: z.number().int().positive(),
  kekId: z.string().min(1).max(64),
  wrapped: z.string().min(1),
  createdAt: IsoDateSchema,
  state: z.enum(['active', 'retired']),
});

export const ThresholdRuleSchema = z.object({
  id: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/),
  metric: MetricNameSchema,
  stat: z.enum(['p50', 'p95', 'p99', 'min', 'max', 'avg', 'count', 'sum']),
  op: z.enum(['>', '>=', '<', '<=']),
  threshold: FiniteNumberSchema,
  severity: z.enum(['critical', 'warning', 'info', 'security']).default('warning'),
});
export type ThresholdRule = z.infer<typeof ThresholdRuleSchema>;

/**
 * Paging on `anomaly` signals (headroom.signals.v1). Absent: anomalies page nobody. A signal pages
 * when its score is at or above `minScore` and its metric is listed (no list = every metric).
 */
export const AnomalyAlertingSchema = z.object({
  minScore: z.number().min(0).max(1).default(0.8),
  severity: z.enum(['critical', 'warning', 'info']).default('warning'),
  metrics: z.array(MetricNameSchema).max(500).optional(),
});
export type AnomalyAlerting = z.infer<typeof AnomalyAlertingSchema>;

/**
 * Paging on any detector signal of headroom.signals.v1: `anomaly`, `forecast` ("p95 will cross 250
 * within 30 min"), `drift`, `outlier`. A signal of the rule's kind pages when its score (a forecast:
 * its probability; a drift: 1 − p-value) is at least `minScore`, its metric is listed (no list =
 * every metric) and, for a forecast, the predicted crossing is within `within`.
 */
export const SignalRuleSchema = z
  .object({
    id: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/),
    kind: z.enum(['anomaly', 'forecast', 'drift', 'outlier']),
    minScore: z.number().min(0).max(1).default(0.8),
    severity: z.enum(['critical', 'warning', 'info', 'security']).default('warning'),
    metrics: z.array(MetricNameSchema).max(500).optional(),
    /** Forecast only: page when the crossing is predicted within this duration of the signal (e.g. `30m`). */
    within: DurationSchema.optional(),
  })
  .strict()
  .refine((r) => r.within === undefined || r.kind === 'forecast', { message: 'only a forecast rule takes `within`', path: ['within'] });
export type SignalRule = z.infer<typeof SignalRuleSchema>;

export const AlertConfigRecordSchema = z.object({
  kind: z.literal('alert_config'),
  tenant: TenantIdSchema,
  /** Legacy single destination: without `routing`, every alert goes to this channel with the deployment's bot token. */
  slackChannel: z.string().regex(/^[#@]?[a-zA-Z0-9._-]{1,80}$/).optional(),
  /** Legacy threshold rules (each is the expression `stat(metric) op threshold`). */
  rules: z.array(ThresholdRuleSchema).max(500),
  /** Expression rules (libs/rules): `p95(api_latency_ms{endpoint="/search"}) > 250`, `for`, hysteresis, absence. */
  alertRules: z.array(AlertRuleSchema).max(500).optional(),
  /** Alertmanager-shaped routing: route tree, receivers, inhibition, escalations (libs/routing). */
  routing: AlertRoutingSchema.optional(),
  /** Tenant overrides of notification templates, by message key (ICU MessageFormat). */
  templates: z.record(z.string().max(64), z.string().max(2000)).optional(),
  anomalies: AnomalyAlertingSchema.optional(),
  /** Pages on detector signals (forecast, drift, outlier, anomaly), each rule its own alert name. */
  signalRules: z.array(SignalRuleSchema).max(50).optional(),
  updatedAt: IsoDateSchema,
});

/** Erasure: every service destroys the tenant's keys (crypto-shredding) and deletes its data. */
export const TenantErasedRecordSchema = z.object({
  kind: z.literal('tenant_erased'),
  tenant: TenantIdSchema,
  erasedAt: IsoDateSchema,
});

/**
 * A GDPR erasure every service carries out and acknowledges on headroom.erasure.v1 (erasure.schema.ts).
 * A subject is named by its pseudonym only: control resolves the user id with the tenant's
 * pseudonym key, so the raw id never reaches Kafka. Control tombstones the request once every
 * service has acknowledged it; until then a service that re-reads the topic runs it again.
 */
export const ErasureRequestRecordSchema = z.object({
  kind: z.literal('erasure_request'),
  id: ErasureIdSchema,
  tenant: TenantIdSchema,
  scope: z.enum(['subject', 'tenant']),
  /** Present exactly when scope is `subject` (a union member cannot refine: `erasureRequestProblem` checks it). */
  subject: SubjectPseudonymSchema.optional(),
  requestedAt: IsoDateSchema,
});

/** Why a request cannot be carried out as written, or undefined: a subject scope without its subject, or a tenant scope with one. */
export function erasureRequestProblem(r: z.infer<typeof ErasureRequestRecordSchema>): string | undefined {
  if (r.scope === 'subject' && !r.subject) return 'a subject erasure names its subject';
  if (r.scope === 'tenant' && r.subject) return 'a tenant erasure names no subject';
  return undefined;
}

/** One public key of control's token-signing keys, as a JWK (RFC 8037: Ed25519, `x` base64url). */
export const PeopleJwkSchema = z
  .object({
    kty: z.literal('OKP'),
    crv: z.literal('Ed25519'),
    x: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
    kid: z.string().regex(/^[A-Za-z0-9_-]{8,64}$/),
    alg: z.literal('EdDSA'),
    use: z.literal('sig'),
  })
  .strict();

/**
 * The public keys that verify people's tokens (JWTs control issues): every service checks a token
 * against the latest of these records, so no service calls control over HTTP. A rotated-out key
 * stays listed until the tokens it signed have expired.
 */
export const JwksRecordSchema = z.object({
  kind: z.literal('jwks'),
  issuer: z.string().min(1).max(200),
  keys: z.array(PeopleJwkSchema).min(1).max(16),
  updatedAt: IsoDateSchema,
});

/**
 * The platform's key for API keys' HMAC digests: random 256 bits generated by control, wrapped by the
 * KEK like a data key (AAD `headroom:api-keys|pseudonym|<version>`), unwrapped by every service that
 * authenticates API keys. Versions stay: each key record names the one its digest used.
 */
export const ApiKeyMacRecordSchema = z.object({
  kind: z.literal('api_key_mac'),
  version: z.number().int().positive(),
  kekId: z.string().min(1).max(64),
  wrapped: z.string().min(1),
  createdAt: IsoDateSchema,
});
export type ApiKeyMacRecord = z.infer<typeof ApiKeyMacRecordSchema>;

/**
 * A person's token revoked before its expiry (by its `jti`): every service refuses it from the moment
 * it reads this record. Control tombstones the record once the token has expired anyway.
 */
export const TokenRevokedRecordSchema = z.object({
  kind: z.literal('token_revoked'),
  jti: z.string().min(8).max(64),
  /** The token's tenant; absent for a platform-admin's token. */
  tenant: TenantIdSchema.optional(),
  /** The token's own expiry: after it, the revocation has nothing left to refuse. */
  expiresAt: IsoDateSchema,
  revokedAt: IsoDateSchema,
});
export type TokenRevokedRecord = z.infer<typeof TokenRevokedRecordSchema>;

export const ControlRecordSchema = z.discriminatedUnion('kind', [
  TenantRecordSchema,
  ApiKeyRecordSchema,
  DataKeyRecordSchema,
  AlertConfigRecordSchema,
  TenantErasedRecordSchema,
  JwksRecordSchema,
  ErasureRequestRecordSchema,
  ApiKeyMacRecordSchema,
  TokenRevokedRecordSchema,
]);
export type ControlRecord = z.infer<typeof ControlRecordSchema>;
export type TenantRecord = z.infer<typeof TenantRecordSchema>;
export type ApiKeyRecord = z.infer<typeof ApiKeyRecordSchema>;
export type DataKeyRecord = z.infer<typeof DataKeyRecordSchema>;
export type AlertConfigRecord = z.infer<typeof AlertConfigRecordSchema>;
export type JwksRecord = z.infer<typeof JwksRecordSchema>;
export type PeopleJwk = z.infer<typeof PeopleJwkSchema>;
export type ErasureRequestRecord = z.infer<typeof ErasureRequestRecordSchema>;

/** Compaction key: one per entity, so the latest record per entity survives. */
export function controlKey(record: ControlRecord): string {
  switch (record.kind) {
    case 'tenant':
      return `tenant/${record.tenant}`;
    case 'api_key':
      return `api_key/${record.keyId}`;
    case 'data_key':
      return `data_key/${record.tenant}/${record.purpose}/${record.version}`;
    case 'alert_config':
      return `alert_config/${record.tenant}`;
    case 'tenant_erased':
      return `tenant_erased/${record.tenant}`;
    case 'jwks':
      return 'jwks/people';
    case 'api_key_mac':
      return `api_key_mac/${record.version}`;
    case 'erasure_request':
      return `erasure_request/${record.id}`;
    case 'token_revoked':
      return `token_revoked/${record.jti}`;
  }
}

export const ControlRecordMessage = defineMessage({
  name: 'control-record',
  version: 1,
  topic: Topics.control,
  schema: ControlRecordSchema,
  tenantScoped: false,
});
