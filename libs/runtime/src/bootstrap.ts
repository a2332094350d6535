import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { DynamicModule, Type } from '@nestjs/common';
import { createLogger, NestPinoLogger, type Logger } from './logger';
import { READINESS } from './tokens';
import { HttpErrorFilter } from './http-error.filter';
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
    new FastifyAdapter({ bodyLimit: options.bodyLimit ?? 10 * 1024 * 1024, maxParamLength: 1000 }),
    { logger: new NestPinoLogger(options.logger), bufferLogs: false },
  );
  app.useGlobalFilters(new HttpErrorFilter(options.logger));
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

/** What every service's environment has in common (see `baseEnvSchema` in @headroom/config). */
export interface ServiceEnv {
  HOST: string;
  PORT: number;
  LOG_LEVEL: string;
  SHUTDOWN_TIMEOUT_MS: number;
}

/**
 * A service's whole `main`: validate the environment (every bad key reported at once), create the
 * JSON logger, start the module; a start failure is printed plainly and exits non-zero.
 */
export function runService<C extends ServiceEnv>(
  service: string,
  loadEnv: () => C,
  makeModule: (config: C, logger: Logger) => Type<unknown> | DynamicModule,
): void {
  const start = async () => {
    const config = loadEnv();
    const logger = createLogger(service, config.LOG_LEVEL);
    await bootstrapService(makeModule(config, logger), { host: config.HOST, port: config.PORT, logger, shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS });
  };
  start().catch((err) => {
    process.stderr.write(`${service} failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
