import { Kafka, logLevel, type KafkaConfig, type LogEntry, type SASLOptions } from 'kafkajs';
import type { ConnectionOptions } from 'node:tls';

/** The minimal logger the Kafka layer needs (pino's shape). */
export interface KafkaLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

/** Kafka's own `security.protocol` names. */
export const KAFKA_SECURITY_PROTOCOLS = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'] as const;
export type KafkaSecurityProtocol = (typeof KAFKA_SECURITY_PROTOCOLS)[number];

/** The SASL mechanisms kafkajs speaks (its own names; Kafka's are upper case). */
export const KAFKA_SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;
export type KafkaSaslMechanism = (typeof KAFKA_SASL_MECHANISMS)[number];

export interface KafkaSaslCredentials {
  readonly mechanism: KafkaSaslMechanism;
  readonly username: string;
  /** Never logged: `kafkaSaslCredentials()` makes it non-enumerable (JSON, pino and util.inspect skip it). */
  readonly password: string;
}

export interface KafkaTlsSettings {
  /** PEM of the CA(s) the brokers' certificates chain to; absent: Node's default CAs. */
  readonly ca?: string;
  /** PEM client certificate and key (mutual TLS); both or neither. */
  readonly cert?: string;
  readonly key?: string;
  /** false only for a test cluster with self-signed certificates: the broker is then not authenticated. */
  readonly rejectUnauthorized: boolean;
}

/**
 * How to talk to the cluster. `tls` is used with SSL and SASL_SSL, `sasl` with SASL_PLAINTEXT and
 * SASL_SSL; `@headroom/config` builds it from the KAFKA_* variables, validated at boot.
 */
export interface KafkaSecurity {
  readonly protocol: KafkaSecurityProtocol;
  readonly sasl?: KafkaSaslCredentials;
  readonly tls?: KafkaTlsSettings;
}

/** Where the cluster is and how to authenticate to it. Absent `security`: PLAINTEXT (the local stack). */
export interface KafkaTarget {
  readonly brokers: readonly string[];
  readonly security?: KafkaSecurity;
}

/** Everything a client needs: one shape for every service, spec and tool. */
export interface KafkaConnection extends KafkaTarget {
  readonly clientId: string;
  readonly logger: KafkaLogger;
}

/** A connection without its logger: what configuration produces (`kafkaConnectionFromConfig` in @headroom/config). */
export type KafkaConnectionSettings = Omit<KafkaConnection, 'logger'>;

/** SASL credentials whose password stays out of logs and JSON (it is a non-enumerable property). */
export function kafkaSaslCredentials(mechanism: KafkaSaslMechanism, username: string, password: string): KafkaSaslCredentials {
  const credentials = { mechanism, username } as { mechanism: KafkaSaslMechanism; username: string; password: string };
  Object.defineProperty(credentials, 'password', { value: password, enumerable: false });
  return credentials;
}

/** Brokers as given, or a target: the brokers plus its security settings (PLAINTEXT when absent). */
export function kafkaTarget(target: readonly string[] | KafkaTarget): KafkaTarget {
  return isBrokerList(target) ? { brokers: [...target] } : target;
}

function isBrokerList(target: readonly string[] | KafkaTarget): target is readonly string[] {
  return Array.isArray(target);
}

/** kafkajs' `ssl` and `sasl` options for the settings (PLAINTEXT: neither). */
export function kafkaSecurityOptions(security: KafkaSecurity | undefined): Pick<KafkaConfig, 'ssl' | 'sasl'> {
  const protocol = security?.protocol ?? 'PLAINTEXT';
  const options: Pick<KafkaConfig, 'ssl' | 'sasl'> = {};
  if (protocol === 'SSL' || protocol === 'SASL_SSL') {
    const tls = security?.tls;
    const ssl: ConnectionOptions = { rejectUnauthorized: tls?.rejectUnauthorized ?? true };
    if (tls?.ca !== undefined) ssl.ca = [tls.ca];
    if (tls?.cert !== undefined) ssl.cert = tls.cert;
    if (tls?.key !== undefined) ssl.key = tls.key;
    options.ssl = ssl;
  }
  if (protocol === 'SASL_PLAINTEXT' || protocol === 'SASL_SSL') {
    const sasl = security?.sasl;
    if (!sasl) throw new Error(`Kafka security protocol ${protocol} needs SASL credentials (mechanism, username, password)`);
    // A plain object built here: kafkajs reads the fields, the non-enumerable password is copied explicitly.
    options.sasl = { mechanism: sasl.mechanism, username: sasl.username, password: sasl.password } as SASLOptions;
  }
  return options;
}

/** A short description for logs and errors: protocol, mechanism and user, never the password. */
export function describeKafkaTarget(target: KafkaTarget): string {
  const protocol = target.security?.protocol ?? 'PLAINTEXT';
  const sasl = target.security?.sasl;
  const auth = sasl && protocol.startsWith('SASL_') ? ` ${sasl.mechanism} as ${sasl.username}` : '';
  return `${target.brokers.join(',')} (${protocol}${auth})`;
}

/** The kafkajs configuration of one client (pure; exported for specs). */
export function kafkaClientConfig(conn: KafkaConnection): KafkaConfig {
  return {
    clientId: conn.clientId,
    brokers: [...conn.brokers],
    ...kafkaSecurityOptions(conn.security),
    logLevel: logLevel.WARN,
    retry: { initialRetryTime: 200, retries: 8 },
    logCreator:
      () =>
      ({ level, log }: LogEntry) => {
        const { message, ...rest } = log;
        const entry = { kafka: rest };
        if (level === logLevel.ERROR) conn.logger.error(entry, message);
        else if (level === logLevel.WARN) conn.logger.warn(entry, message);
        else if (level === logLevel.INFO) conn.logger.info(entry, message);
        else conn.logger.debug(entry, message);
      },
  };
}

/** One kafkajs client per process; its own log lines go to our JSON logger. */
export function createKafkaClient(conn: KafkaConnection): Kafka {
  return new Kafka(kafkaClientConfig(conn));
}
export type { Kafka as KafkaClient } from 'kafkajs';
