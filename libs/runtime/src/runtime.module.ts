import { DynamicModule, Global, Module } from '@nestjs/common';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { HealthController } from './health.controller';
import { Readiness } from './readiness';
import { LOGGER, METRICS, METRICS_TOKEN, READINESS, SERVICE_NAME } from './tokens';
import type { Logger } from './logger';
import { buildOpenApiDocument, OPENAPI_DOCUMENT, OpenApiController, RUNTIME_OPERATIONS, type ApiOperation } from './openapi';

export interface RuntimeOptions {
  service: string;
  logger: Logger;
  /** Pass one in tests to inspect metrics; otherwise a fresh registry with process metrics. */
  metrics?: Registry;
  /** HEADROOM_METRICS_TOKEN: the bearer token /metrics requires (it names tenants); unset, /metrics refuses everyone. */
  metricsToken?: string;
  /** The service's HTTP operations, served with RuntimeModule's own at `GET /openapi.json`. */
  openapi?: readonly ApiOperation[];
}

/** Health, readiness, metrics and logging for every service, provided once, globally. */
@Global()
@Module({})
export class RuntimeModule {
  static forRoot(options: RuntimeOptions): DynamicModule {
    const metrics = options.metrics ?? createServiceRegistry(options.service);
    return {
      module: RuntimeModule,
      controllers: [HealthController, OpenApiController],
      providers: [
        // Built at boot: a schema the generator cannot describe stops the service, not a later request.
        { provide: OPENAPI_DOCUMENT, useValue: buildOpenApiDocument({ service: options.service, operations: [...RUNTIME_OPERATIONS, ...(options.openapi ?? [])] }) },
        { provide: LOGGER, useValue: options.logger },
        { provide: METRICS, useValue: metrics },
        { provide: READINESS, useValue: new Readiness() },
        { provide: SERVICE_NAME, useValue: options.service },
        { provide: METRICS_TOKEN, useValue: options.metricsToken },
      ],
      exports: [LOGGER, METRICS, READINESS, SERVICE_NAME, METRICS_TOKEN],
    };
  }
}

export function createServiceRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry, prefix: 'headroom_' });
  return registry;
}
