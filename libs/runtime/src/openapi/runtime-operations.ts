import { z } from 'zod';
import { HealthController } from '../health.controller';
import type { ApiOperation } from './api-operation';
import { OpenApiController } from './openapi.controller';

const ReadinessSchema = z.object({ ready: z.boolean(), checks: z.record(z.boolean()) });

/** The routes RuntimeModule itself adds to every service. */
export const RUNTIME_OPERATIONS: readonly ApiOperation[] = [
  {
    handler: [HealthController, 'healthz'],
    summary: 'Liveness: the process answers',
    tags: ['runtime'],
    responses: { 200: { description: 'Alive', content: { 'application/json': z.object({ status: z.literal('ok') }) } } },
  },
  {
    handler: [HealthController, 'readyz'],
    summary: 'Readiness: every dependency check',
    tags: ['runtime'],
    responses: {
      200: { description: 'Ready', content: { 'application/json': ReadinessSchema } },
      503: { description: 'Not ready (or shutting down): the failing checks', content: { 'application/json': ReadinessSchema } },
    },
  },
  {
    handler: [HealthController, 'metricsText'],
    summary: 'The service’s own Prometheus metrics',
    description: 'Operational metrics only; behind the deployment’s metrics bearer token (HEADROOM_METRICS_TOKEN).',
    tags: ['runtime'],
    responses: { 200: { description: 'Prometheus text exposition', content: { 'text/plain': { type: 'string' } } } },
    errors: [401],
  },
  {
    handler: [OpenApiController, 'openapi'],
    summary: 'This document',
    tags: ['runtime'],
    responses: { 200: { description: 'OpenAPI 3.1', content: { 'application/json': { type: 'object' } } } },
  },
];
