import { DynamicModule, Global, Module } from '@nestjs/common';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { HealthController } from './health.controller';
import { Readiness } from './readiness';
import { LOGGER, METRICS, READINESS, SERVICE_NAME } from './tokens';
import type { Logger } from './logger';

export interface RuntimeOptions {
  service: string;
  logger: Logger;
  /** Pass one in tests to inspect metrics; otherwise a fresh registry with process metrics. */
  metrics?: Registry;
}

/** Health, readiness, metrics and logging for every service, provided once, globally. */
@Global()
@Module({})
export class RuntimeModule {
  static forRoot(options: RuntimeOptions): DynamicModule {
    const metrics = options.metrics ?? createServiceRegistry(options.service);
    return {
      module: RuntimeModule,
      controllers: [HealthController],
      providers: [
        { provide: LOGGER, useValue: options.logger },
        { provide: METRICS, useValue: metrics },
        { provide: READINESS, useValue: new Readiness() },
        { provide: SERVICE_NAME, useValue: options.service },
      ],
      exports: [LOGGER, METRICS, READINESS, SERVICE_NAME],
    };
  }
}

export function createServiceRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry, prefix: 'headroom_' });
  return registry;
}
