import { z } from 'zod';
import { kafkaEnvProblems, kafkaEnvSchema } from './kafka-env';

export class ConfigError extends Error {
  constructor(readonly problems: { key: string; message: string }[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p.key}: ${p.message}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Validates a whole environment at once and reports every problem with its key (as the
 * Collector's confmap does), instead of failing on the first missing variable.
 * The environment is passed in: libraries never read process.env.
 */
export function loadConfig<S extends z.ZodTypeAny>(schema: S, env: Record<string, string | undefined>): z.infer<S> {
  const result = schema.safeParse(env);
  const problems = result.success ? [] : result.error.issues.map((i) => ({ key: i.path.join('.') || '(env)', message: i.message }));
  // Rules across several variables run on the raw environment beside the schema (a zod refinement
  // on the object would be skipped as soon as any single variable is invalid).
  if (schemaKeys(schema).has('KAFKA_SECURITY_PROTOCOL')) problems.push(...kafkaEnvProblems(env));
  if (schemaKeys(schema).has('HEADROOM_KEK_PREVIOUS')) problems.push(...previousKekProblems(env));
  if (problems.length > 0 || !result.success) throw new ConfigError(problems);
  return result.data;
}

/** A previous KEK needs its own id: keys name the KEK that wrapped them by id. */
function previousKekProblems(env: Record<string, string | undefined>): { key: string; message: string }[] {
  const previous = env['HEADROOM_KEK_PREVIOUS'];
  const previousId = env['HEADROOM_KEK_PREVIOUS_ID'];
  if (previous === undefined && previousId === undefined) return [];
  if (previous === undefined) return [{ key: 'HEADROOM_KEK_PREVIOUS', message: 'is required with HEADROOM_KEK_PREVIOUS_ID' }];
  if (previousId === undefined) return [{ key: 'HEADROOM_KEK_PREVIOUS_ID', message: 'is required with HEADROOM_KEK_PREVIOUS: the id the keys wrapped under it carry (the old HEADROOM_KEK_ID)' }];
  if (previousId === (env['HEADROOM_KEK_ID'] ?? 'kek-1')) return [{ key: 'HEADROOM_KEK_PREVIOUS_ID', message: 'must differ from HEADROOM_KEK_ID: give the new KEK a new id' }];
  return [];
}

function schemaKeys(schema: z.ZodTypeAny): Set<string> {
  let s: z.ZodTypeAny = schema;
  while (s instanceof z.ZodEffects) s = s.innerType();
  return new Set(s instanceof z.ZodObject ? Object.keys(s.shape as object) : []);
}

/**
 * Variables every service shares. Defaults point at the local stack started by `npm run infra:up`;
 * the KAFKA_* ones (brokers, TLS, SASL) are `kafkaEnvSchema` (kafka-env.ts).
 */
export const baseEnvSchema = z.object({
  ...kafkaEnvSchema.shape,
  HEADROOM_KEK: z
    .string({ required_error: 'is required: base64 of a 32-byte key-encryption key (see README)' })
    .refine((s) => Buffer.from(s, 'base64').length === 32, 'must be base64 of exactly 32 bytes'),
  HEADROOM_KEK_ID: z.string().min(1).default('kek-1'),
  /**
   * During a KEK rotation only: the KEK being rotated out and its id. Keys still wrapped under it
   * unwrap until control has re-wrapped every one under HEADROOM_KEK (docs/crypto.md, runbook).
   */
  HEADROOM_KEK_PREVIOUS: z
    .string()
    .refine((s) => Buffer.from(s, 'base64').length === 32, 'must be base64 of exactly 32 bytes')
    .optional(),
  HEADROOM_KEK_PREVIOUS_ID: z.string().min(1).optional(),
  /**
   * Control's Ed25519 public key(s), base64 SPKI DER, comma-separated while a new signing key is
   * rolled out: control records not signed by one of them are refused (docs/security.md).
   */
  HEADROOM_CONTROL_PUBLIC_KEY: z
    .string({ required_error: 'is required: base64 of control\'s Ed25519 public key (SPKI DER), see README' })
    .refine((s) => s.split(',').every((k) => Buffer.from(k.trim(), 'base64').length === 44), 'must be base64 SPKI DER Ed25519 public key(s) (44 bytes each), comma-separated'),
  /**
   * Bearer token Prometheus presents to scrape the service's own /metrics, which names tenants and
   * their volumes. Unset: /metrics refuses every request.
   */
  HEADROOM_METRICS_TOKEN: z.string().min(24, 'must be at least 24 characters').optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  HOST: z.string().default('127.0.0.1'),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().positive().default(15_000),
});

export const databaseEnvSchema = z.object({
  DATABASE_URL: z
    .string()
    .default('postgres://headroom:headroom@127.0.0.1:5432/headroom')
    .refine((s) => /^postgres(ql)?:\/\//.test(s), 'must be a postgres:// URL'),
});

export const redisEnvSchema = z.object({
  REDIS_URL: z
    .string()
    .default('redis://127.0.0.1:6379')
    .refine((s) => /^rediss?:\/\//.test(s), 'must be a redis:// URL'),
});

export const portEnv = (defaultPort: number) =>
  z.object({ PORT: z.coerce.number().int().min(0).max(65535).default(defaultPort) });
