import { Kafka, logLevel, type LogEntry } from 'kafkajs';

/** The minimal logger the Kafka layer needs (pino's shape). */
export interface KafkaLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

export interface KafkaConnection {
  brokers: string[];
  clientId: string;
  logger: KafkaLogger;
}

/** One kafkajs client per process; its own log lines go to our JSON logger. */
export function createKafkaClient(conn: KafkaConnection): Kafka {
  return new Kafka({
    clientId: conn.clientId,
    brokers: conn.brokers,
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
  });
}
export type { Kafka as KafkaClient } from 'kafkajs';
