/**
 * The Kafka connection settings every service shares (and tools/infra, for KAFKA_BROKERS): brokers,
 * security protocol, SASL credentials and TLS files, with Kafka's own names. Each variable is checked
 * on its own by the schema, the rules that involve several variables by `kafkaEnvProblems`; `loadConfig`
 * reports both together. Unset (or empty) variables keep today's behaviour: PLAINTEXT to 127.0.0.1:9092.
 * No message ever contains a value read from a secret (password, key file).
 */
import * as fs from 'node:fs';
import { z } from 'zod';
import {
  KAFKA_SASL_MECHANISMS,
  KAFKA_SECURITY_PROTOCOLS,
  kafkaSaslCredentials,
  type KafkaSaslMechanism,
  type KafkaSecurity,
  type KafkaSecurityProtocol,
  type KafkaConnectionSettings,
  type KafkaTarget,
  type KafkaTlsSettings,
} from '@headroom/kafka';

export type ConfigProblem = { key: string; message: string };
type Env = Record<string, string | undefined>;

const csv = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean);

/** Unset and empty are the same (Helm and compose render empty values). */
const present = (env: Env, key: string): boolean => (env[key] ?? '').trim() !== '';
const emptyAsUnset = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);

/** What is wrong with a file the service must read at boot (`undefined`: readable regular file). */
function unreadable(path: string): string | undefined {
  try {
    const st = fs.statSync(path);
    if (!st.isFile()) return `${path} is not a file`;
    fs.accessSync(path, fs.constants.R_OK);
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return `${path} does not exist`;
    if (code === 'EACCES') return `${path} cannot be read (permission denied)`;
    return `${path} cannot be read (${code ?? 'error'})`;
  }
}

/**
 * A path to a readable file; `pem` checks it holds that PEM block (without quoting the file: a key
 * file is a secret). `secret` files must not be empty.
 */
const fileVar = (what: 'certificate' | 'private key' | 'secret') =>
  z.preprocess(
    emptyAsUnset,
    z
      .string()
      .superRefine((path, ctx) => {
        const problem = unreadable(path);
        if (problem) {
          ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
          return;
        }
        const text = fs.readFileSync(path, 'utf8');
        if (what === 'secret' && stripNewline(text).length === 0) {
          ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${path} is empty` });
        } else if (what === 'certificate' && !/-----BEGIN CERTIFICATE-----/.test(text)) {
          ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)` });
        } else if (what === 'private key' && !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) {
          ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${path} holds no PEM private key (-----BEGIN … PRIVATE KEY-----)` });
        } else if (what === 'private key' && /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(text)) {
          ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${path} is encrypted: no passphrase is taken, store the key unencrypted in the Secret` });
        }
      })
      .optional(),
  );

/** Secret files end with the newline `echo` or an editor leaves; it is not part of the secret. */
function stripNewline(s: string): string {
  return s.replace(/\r?\n$/, '');
}

const oneOf = <T extends string>(values: readonly [T, ...T[]], normalize: (s: string) => string) =>
  z.preprocess(
    (v) => (typeof v === 'string' ? normalize(v.trim()) : v),
    // The value is not echoed: a misplaced secret must not end up in a boot error.
    z.enum(values, { errorMap: () => ({ message: `must be one of ${values.join(', ')}` }) }),
  );

const bool = z.preprocess(
  emptyAsUnset,
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'], { errorMap: () => ({ message: 'must be true or false' }) })
    .default('true')
    .transform((v) => v === 'true' || v === '1' || v === 'yes'),
);

export const kafkaEnvSchema = z.object({
  KAFKA_BROKERS: z
    .string()
    .default('127.0.0.1:9092')
    .transform(csv)
    .refine((l) => l.length > 0 && l.every((b) => /^[^:\s]+:\d+$/.test(b)), 'must be a comma-separated list of host:port'),
  /** Prepended (with a dash) to each client id (`<prefix>-collectors`): broker logs, quotas. */
  KAFKA_CLIENT_ID_PREFIX: z.preprocess(
    emptyAsUnset,
    z.string().regex(/^[A-Za-z0-9._-]+$/, 'may hold only letters, digits, ".", "_" and "-"').optional(),
  ),
  KAFKA_SECURITY_PROTOCOL: z.preprocess(emptyAsUnset, oneOf<KafkaSecurityProtocol>([...KAFKA_SECURITY_PROTOCOLS] as [KafkaSecurityProtocol, ...KafkaSecurityProtocol[]], (s) => s.toUpperCase()).default('PLAINTEXT')),
  /** Kafka's names (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) or kafkajs' lower-case ones. */
  KAFKA_SASL_MECHANISM: z.preprocess(emptyAsUnset, oneOf<KafkaSaslMechanism>([...KAFKA_SASL_MECHANISMS] as [KafkaSaslMechanism, ...KafkaSaslMechanism[]], (s) => s.toLowerCase()).optional()),
  KAFKA_SASL_USERNAME: z.preprocess(emptyAsUnset, z.string().optional()),
  KAFKA_SASL_USERNAME_FILE: fileVar('secret'),
  KAFKA_SASL_PASSWORD: z.preprocess(emptyAsUnset, z.string().optional()),
  KAFKA_SASL_PASSWORD_FILE: fileVar('secret'),
  KAFKA_TLS_CA_FILE: fileVar('certificate'),
  KAFKA_TLS_CERT_FILE: fileVar('certificate'),
  KAFKA_TLS_KEY_FILE: fileVar('private key'),
  KAFKA_TLS_REJECT_UNAUTHORIZED: bool,
});
export type KafkaEnv = z.infer<typeof kafkaEnvSchema>;

const SASL_KEYS = ['KAFKA_SASL_MECHANISM', 'KAFKA_SASL_USERNAME', 'KAFKA_SASL_USERNAME_FILE', 'KAFKA_SASL_PASSWORD', 'KAFKA_SASL_PASSWORD_FILE'];
const TLS_KEYS = ['KAFKA_TLS_CA_FILE', 'KAFKA_TLS_CERT_FILE', 'KAFKA_TLS_KEY_FILE', 'KAFKA_TLS_REJECT_UNAUTHORIZED'];

/**
 * The rules across variables, on the raw environment (so they are found even when another variable
 * is invalid): what a protocol needs, what it cannot use, pairs that go together or exclude each other.
 */
export function kafkaEnvProblems(env: Env): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const raw = (env['KAFKA_SECURITY_PROTOCOL'] ?? '').trim().toUpperCase() || 'PLAINTEXT';
  const protocol = (KAFKA_SECURITY_PROTOCOLS as readonly string[]).includes(raw) ? (raw as KafkaSecurityProtocol) : undefined;
  const sasl = protocol === 'SASL_PLAINTEXT' || protocol === 'SASL_SSL';
  const tls = protocol === 'SSL' || protocol === 'SASL_SSL';

  for (const key of ['KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD']) {
    if (present(env, key) && present(env, `${key}_FILE`)) {
      problems.push({ key: `${key}_FILE`, message: `set either ${key} or ${key}_FILE, not both` });
    }
  }
  if (protocol && sasl) {
    const why = `is required with KAFKA_SECURITY_PROTOCOL=${protocol}`;
    if (!present(env, 'KAFKA_SASL_MECHANISM')) problems.push({ key: 'KAFKA_SASL_MECHANISM', message: `${why}: one of ${KAFKA_SASL_MECHANISMS.join(', ')}` });
    if (!present(env, 'KAFKA_SASL_USERNAME') && !present(env, 'KAFKA_SASL_USERNAME_FILE')) problems.push({ key: 'KAFKA_SASL_USERNAME', message: `${why} (or KAFKA_SASL_USERNAME_FILE)` });
    if (!present(env, 'KAFKA_SASL_PASSWORD') && !present(env, 'KAFKA_SASL_PASSWORD_FILE')) problems.push({ key: 'KAFKA_SASL_PASSWORD', message: `${why} (or KAFKA_SASL_PASSWORD_FILE)` });
  }
  if (protocol && !sasl) {
    for (const key of SASL_KEYS.filter((k) => present(env, k))) {
      problems.push({ key, message: `is set but KAFKA_SECURITY_PROTOCOL=${protocol} does not use SASL (SASL_PLAINTEXT or SASL_SSL does)` });
    }
  }
  if (protocol && !tls) {
    for (const key of TLS_KEYS.filter((k) => present(env, k))) {
      problems.push({ key, message: `is set but KAFKA_SECURITY_PROTOCOL=${protocol} does not use TLS (SSL or SASL_SSL does)` });
    }
  }
  if (present(env, 'KAFKA_TLS_KEY_FILE') && !present(env, 'KAFKA_TLS_CERT_FILE')) {
    problems.push({ key: 'KAFKA_TLS_KEY_FILE', message: 'needs KAFKA_TLS_CERT_FILE: a client key without its certificate' });
  }
  if (present(env, 'KAFKA_TLS_CERT_FILE') && !present(env, 'KAFKA_TLS_KEY_FILE')) {
    problems.push({ key: 'KAFKA_TLS_CERT_FILE', message: 'needs KAFKA_TLS_KEY_FILE: a client certificate without its key' });
  }
  return problems;
}

function readSecret(path: string): string {
  return stripNewline(fs.readFileSync(path, 'utf8'));
}

/**
 * The client's security settings from a validated environment (reads the secret and TLS files).
 * `undefined` for PLAINTEXT: the client is built exactly as without these variables.
 */
export function kafkaSecurityFromConfig(config: KafkaEnv): KafkaSecurity | undefined {
  const protocol = config.KAFKA_SECURITY_PROTOCOL;
  if (protocol === 'PLAINTEXT') return undefined;
  let sasl: KafkaSecurity['sasl'];
  if (protocol === 'SASL_PLAINTEXT' || protocol === 'SASL_SSL') {
    const username = config.KAFKA_SASL_USERNAME_FILE ? readSecret(config.KAFKA_SASL_USERNAME_FILE) : config.KAFKA_SASL_USERNAME;
    const password = config.KAFKA_SASL_PASSWORD_FILE ? readSecret(config.KAFKA_SASL_PASSWORD_FILE) : config.KAFKA_SASL_PASSWORD;
    if (!config.KAFKA_SASL_MECHANISM || username === undefined || password === undefined) {
      // loadConfig has refused this environment already; reached only when called without it.
      throw new Error(`KAFKA_SECURITY_PROTOCOL=${protocol} needs KAFKA_SASL_MECHANISM, a username and a password`);
    }
    sasl = kafkaSaslCredentials(config.KAFKA_SASL_MECHANISM, username, password);
  }
  let tls: KafkaTlsSettings | undefined;
  if (protocol === 'SSL' || protocol === 'SASL_SSL') {
    tls = {
      rejectUnauthorized: config.KAFKA_TLS_REJECT_UNAUTHORIZED,
      ...(config.KAFKA_TLS_CA_FILE ? { ca: fs.readFileSync(config.KAFKA_TLS_CA_FILE, 'utf8') } : {}),
      ...(config.KAFKA_TLS_CERT_FILE ? { cert: fs.readFileSync(config.KAFKA_TLS_CERT_FILE, 'utf8') } : {}),
      ...(config.KAFKA_TLS_KEY_FILE ? { key: fs.readFileSync(config.KAFKA_TLS_KEY_FILE, 'utf8') } : {}),
    };
  }
  return { protocol, ...(sasl ? { sasl } : {}), ...(tls ? { tls } : {}) };
}

/** Brokers and security of a validated environment: what `ensureTopics`/`waitForBroker` take. */
export function kafkaTargetFromConfig(config: KafkaEnv): KafkaTarget {
  const security = kafkaSecurityFromConfig(config);
  return { brokers: config.KAFKA_BROKERS, ...(security ? { security } : {}) };
}

/**
 * A client's connection settings (without the logger, which the caller adds): the client id is the
 * service's name, after KAFKA_CLIENT_ID_PREFIX when set.
 */
export function kafkaConnectionFromConfig(config: KafkaEnv, clientId: string): KafkaConnectionSettings {
  return {
    ...kafkaTargetFromConfig(config),
    clientId: config.KAFKA_CLIENT_ID_PREFIX ? `${config.KAFKA_CLIENT_ID_PREFIX}-${clientId}` : clientId,
  };
}
