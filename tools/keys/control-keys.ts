/**
 * `npm run keys` — a fresh set of deployment secrets, printed as environment lines (never written
 * anywhere): control's Ed25519 signing key and its public half (every service checks control
 * records with it), a KEK and a metrics token. Put them in the deployment's Secret
 * (deploy/helm values `secrets.*`); keep CONTROL_SIGNING_KEY in control's environment only.
 */
import { randomBytes } from 'node:crypto';
import { generateControlSigningKeys } from '@headroom/crypto';

const { signingKey, publicKey } = generateControlSigningKeys();
const lines = [
  '# control only',
  `CONTROL_SIGNING_KEY=${signingKey}`,
  '# every service (control included)',
  `HEADROOM_CONTROL_PUBLIC_KEY=${publicKey}`,
  `HEADROOM_KEK=${randomBytes(32).toString('base64')}`,
  `HEADROOM_METRICS_TOKEN=${randomBytes(24).toString('base64url')}`,
];
process.stdout.write(`${lines.join('\n')}\n`);
