import { createPrivateKey, createPublicKey } from 'node:crypto';
import { z } from 'zod';
import { baseEnvSchema, databaseEnvSchema, portEnv } from '@headroom/config';
import { durationProblem, parseDuration } from '@headroom/contracts';

/** A Prometheus-style duration (`30d`, `12h`, `2s`) as milliseconds, more than zero. */
const durationMs = () =>
  z
    .string()
    .superRefine((s, ctx) => {
      const problem = durationProblem(s);
      if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `must be a duration such as 30d or 12h: ${problem}` });
      else if (parseDuration(s) <= 0) ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must be more than zero' });
    })
    .transform(parseDuration);

export const controlEnvSchema = baseEnvSchema
  .merge(databaseEnvSchema)
  .merge(portEnv(4050))
  .merge(
    z.object({
      /** Operators' bearer token for the admin API (tenants, keys, erasure). */
      CONTROL_ADMIN_TOKEN: z.string({ required_error: 'is required: the operators\' bearer token (at least 24 characters)' }).min(24, 'must be at least 24 characters'),
      /** Control's Ed25519 private key, base64 PKCS#8 DER: it signs every control record (`npm run keys` makes a pair). */
      CONTROL_SIGNING_KEY: z
        .string({ required_error: 'is required: base64 of control\'s Ed25519 private key (PKCS#8 DER), see README' })
        .refine((s) => publicHalf(s) !== undefined, 'must be base64 of a PKCS#8 DER Ed25519 private key'),
      /** A tenant whose current data key is older than this gets a new version (docs/crypto.md, key lifecycle). */
      CONTROL_DATA_KEY_MAX_AGE: durationMs().default('30d'),
      /**
       * How long after a data-key version stopped being current it may be retired: records sealed with
       * it must have left every topic first. Unset: the longest retention of the topics that carry
       * sealed records, from the topic registry (set it if the cluster's retention was raised).
       */
      CONTROL_DATA_KEY_RETIRE_AFTER: durationMs().optional(),
      /**
       * Subject erasures a tenant may have open at once (Mimir-style per-tenant limit): beyond it,
       * 429 with Retry-After. Every service carries out every erasure, so without a cap one tenant's
       * flood would queue ahead of every other tenant's sagas.
       */
      CONTROL_MAX_OPEN_SUBJECT_ERASURES: z.coerce.number().int().min(1).max(100_000).default(100),
      /** How often the key job (scheduled rotation, re-seal, retirement) runs. */
      CONTROL_KEY_JOB_INTERVAL: durationMs().default('1m'),
    }),
  )
  // Control reads its own records back through the same check as every service: a signing key whose
  // public half the deployment does not list would make control refuse its own records.
  .refine((c) => c.HEADROOM_CONTROL_PUBLIC_KEY.split(',').some((k) => k.trim() === publicHalf(c.CONTROL_SIGNING_KEY)), {
    message: 'the public half of CONTROL_SIGNING_KEY must be one of HEADROOM_CONTROL_PUBLIC_KEY',
    path: ['HEADROOM_CONTROL_PUBLIC_KEY'],
  });

function publicHalf(pkcs8: string): string | undefined {
  try {
    const key = createPrivateKey({ key: Buffer.from(pkcs8.trim(), 'base64'), format: 'der', type: 'pkcs8' });
    if (key.asymmetricKeyType !== 'ed25519') return undefined;
    return createPublicKey(key).export({ type: 'spki', format: 'der' }).toString('base64');
  } catch {
    return undefined;
  }
}
export type ControlConfig = z.infer<typeof controlEnvSchema>;
