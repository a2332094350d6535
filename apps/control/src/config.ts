import { createPrivateKey, createPublicKey } from 'node:crypto';
import { z } from 'zod';
import { baseEnvSchema, databaseEnvSchema, portEnv } from '@headroom/config';

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
