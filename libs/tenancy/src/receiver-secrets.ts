import { RECEIVER_SECRET_FIELDS, Topics, type AlertReceiver } from '@headroom/contracts';
import { CryptoError, type CryptoErrorCode, type RecordAad, type TenantKeyring } from '@headroom/crypto';

/**
 * Receiver secrets (Slack bot tokens, PagerDuty routing keys, webhook HMAC secrets, SMS tokens) are
 * stored and published sealed: `sealed:v1:<keyVersion>:<base64 iv|tag|ciphertext>`, AES-256-GCM under
 * the tenant's data key. The AAD names the tenant and the secret's place (receiver, channel, index,
 * field), so a value copied to another tenant or moved to another receiver or field does not open.
 * Control seals (it holds the KEK), alerting opens (it has the keyring from the control topic).
 * See docs/crypto.md.
 */

export const SEALED_SECRET_PREFIX = 'sealed:v1:';
/** What the config API answers in place of a secret. Never a valid secret, so a PUT refuses it. */
export const REDACTED_SECRET = '***';

export type ReceiverChannel = keyof typeof RECEIVER_SECRET_FIELDS;
export const RECEIVER_CHANNELS = Object.keys(RECEIVER_SECRET_FIELDS) as ReceiverChannel[];

/** Where one integration sits in a tenant's routing: `receivers[receiverIndex].<channel>_configs[index]`. */
export interface IntegrationPlace {
  receiver: string;
  receiverIndex: number;
  channel: ReceiverChannel;
  index: number;
}

/**
 * A secret that cannot be opened, named by its path, never by its value. `code` is the crypto error's
 * (`unknown_key` may heal when the key arrives) or `malformed` for a value that is not a sealed string.
 */
export class ReceiverSecretError extends Error {
  constructor(
    readonly path: string,
    readonly receiver: string,
    readonly code: CryptoErrorCode | 'malformed',
    reason: string,
  ) {
    super(`cannot open receiver secret ${path} (receiver "${receiver}"): ${reason}`);
    this.name = 'ReceiverSecretError';
  }
}

type Routing = { receivers: AlertReceiver[] };
type Config = Record<string, unknown>;

export function isSealedSecret(value: unknown): value is string {
  return typeof value === 'string' && value.startsWith('sealed:');
}

/** The AAD of one secret. Receiver names may contain `/`; the three segments after it never do, so the label stays unambiguous. */
export function receiverSecretAad(tenant: string, place: Omit<IntegrationPlace, 'receiverIndex'>, field: string): RecordAad {
  return { tenant, topic: Topics.control.name, schema: `alert-secret/${place.receiver}/${place.channel}/${place.index}/${field}` };
}

function secretPath(place: IntegrationPlace, field: string): string {
  return `receivers.${place.receiverIndex}.${place.channel}_configs.${place.index}.${field}`;
}

/** Applies `change` to every secret field present in the routing; returns a copy, the input is left alone. */
function mapSecrets<R extends Routing>(routing: R, change: (value: unknown, place: IntegrationPlace, field: string) => unknown): R {
  const receivers = routing.receivers.map((r, receiverIndex) => {
    const copy: Record<string, unknown> = { ...r };
    for (const channel of RECEIVER_CHANNELS) {
      const key = `${channel}_configs`;
      const configs = copy[key] as Config[] | undefined;
      if (!configs) continue;
      copy[key] = configs.map((cfg, index) => mapIntegration(cfg, { receiver: r.name, receiverIndex, channel, index }, change));
    }
    return copy as AlertReceiver;
  });
  return { ...routing, receivers };
}

function mapIntegration(config: Config, place: IntegrationPlace, change: (value: unknown, place: IntegrationPlace, field: string) => unknown): Config {
  const copy: Config = { ...config };
  for (const field of RECEIVER_SECRET_FIELDS[place.channel]) {
    if (copy[field] !== undefined) copy[field] = change(copy[field], place, field);
  }
  return copy;
}

/**
 * Seals every plain string secret with the tenant's current data key. A value already sealed is kept
 * as it is (it opens only if it was sealed for this tenant and place), so sealing twice is harmless.
 */
export function sealReceiverSecrets<R extends Routing>(routing: R, tenant: string, keyring: Pick<TenantKeyring, 'encrypt'>): R {
  return mapSecrets(routing, (value, place, field) => {
    if (typeof value !== 'string' || isSealedSecret(value)) return value;
    const { keyVersion, ciphertext } = keyring.encrypt(receiverSecretAad(tenant, place, field), Buffer.from(value, 'utf8'));
    return `${SEALED_SECRET_PREFIX}${keyVersion}:${ciphertext.toString('base64')}`;
  });
}

/** True if some secret is still in clear (a config stored before sealing, or one a test published directly). */
export function hasPlainReceiverSecrets(routing: Routing): boolean {
  let plain = false;
  mapSecrets(routing, (value) => {
    if (typeof value === 'string' && !isSealedSecret(value)) plain = true;
    return value;
  });
  return plain;
}

const SEALED_RE = /^sealed:v1:([1-9][0-9]{0,9}):([A-Za-z0-9+/]+={0,2})$/;

function openValue(value: unknown, tenant: string, place: IntegrationPlace, field: string, keyring: Pick<TenantKeyring, 'decrypt'>): unknown {
  if (!isSealedSecret(value)) return value;
  const fail = (code: CryptoErrorCode | 'malformed', reason: string) => new ReceiverSecretError(secretPath(place, field), place.receiver, code, reason);
  const m = SEALED_RE.exec(value);
  if (!m) throw fail('malformed', 'not a sealed value (expected sealed:v1:<keyVersion>:<base64>)');
  try {
    return keyring.decrypt(receiverSecretAad(tenant, place, field), Number(m[1]), Buffer.from(m[2] as string, 'base64')).toString('utf8');
  } catch (err) {
    if (err instanceof CryptoError) throw fail(err.code, err.message);
    throw err;
  }
}

/** One integration's target with its secrets opened; plain values pass through. Throws ReceiverSecretError. */
export function openIntegrationSecrets(config: Config, tenant: string, place: IntegrationPlace, keyring: Pick<TenantKeyring, 'decrypt'>): Config {
  return mapIntegration(config, place, (value, p, field) => openValue(value, tenant, p, field, keyring));
}

/** The routing with every secret opened; throws ReceiverSecretError (by path) at the first that does not open. */
export function openReceiverSecrets<R extends Routing>(routing: R, tenant: string, keyring: Pick<TenantKeyring, 'decrypt'>): R {
  return mapSecrets(routing, (value, place, field) => openValue(value, tenant, place, field, keyring));
}

/** The routing as the config API answers it: every secret present replaced by `***`. */
export function redactReceiverSecrets<R extends Routing>(routing: R): R {
  return mapSecrets(routing, () => REDACTED_SECRET);
}

/** Paths of secrets sent as the redaction placeholder (an answer echoed back instead of the secret). */
export function redactedSecretPaths(routing: Routing): string[] {
  const paths: string[] = [];
  mapSecrets(routing, (value, place, field) => {
    if (value === REDACTED_SECRET) paths.push(secretPath(place, field));
    return value;
  });
  return paths;
}
