import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { DynamicModule, Type } from '@nestjs/common';
import { NestPinoLogger, type Logger } from './logger';
import { READINESS } from './tokens';
import type { Readiness } from './readiness';

export interface BootstrapOptions {
  host: string;
  port: number;
  logger: Logger;
  shutdownTimeoutMs: number;
  /** Largest request body accepted, in bytes. */
  bodyLimit?: number;
}

/**
 * Starts a service on Fastify with graceful shutdown: on SIGTERM/SIGINT it reports not-ready,
 * lets modules finish in-flight work (their shutdown hooks stop consumers and commit offsets),
 * closes the HTTP server, and exits; a hung shutdown is cut off after `shutdownTimeoutMs`.
 */
export async function bootstrapService(module: Type<unknown> | DynamicModule, options: BootstrapOptions): Promise<NestFastifyApplication> {
  const app = await NestFactory.create<NestFastifyApplication>(
    module,
    new FastifyAdapter({ bodyLimit: options.bodyLimit ?? 10 * 1024 * 1024 }),
    { logger: new NestPinoLogger(options.logger), bufferLogs: false },
  );
  await app.listen(options.port, options.host);
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  options.logger.info({ host: options.host, port }, 'listening');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    options.logger.info({ signal }, 'shutting down');
    app.get<Readiness>(READINESS).markShuttingDown();
    const timer = setTimeout(() => {
      options.logger.error({ timeoutMs: options.shutdownTimeoutMs }, 'shutdown timed out; exiting');
      process.exit(1);
    }, options.shutdownTimeoutMs);
    timer.unref();
    try {
      await app.close();
      options.logger.info('stopped cleanly');
      process.exit(0);
    } catch (err) {
      options.logger.error({ err }, 'error during shutdown');
      process.exit(1);
    }
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
  return app;
}

export function listeningPort(app: NestFastifyApplication): number {
  const address = app.getHttpServer().address();
  return typeof address === 'object' && address ? address.port : 0;
}
