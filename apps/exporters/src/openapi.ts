import type { ApiOperation } from '@headroom/runtime';
import { PrometheusController } from './prometheus/prometheus.controller';

export const EXPORTERS_OPERATIONS: readonly ApiOperation[] = [
  {
    handler: [PrometheusController, 'metrics'],
    summary: 'The calling tenant’s windows for a Prometheus scrape (OpenMetrics or text format by Accept; gzip by Accept-Encoding)',
    responses: {
      200: {
        description: 'Exposition',
        content: { 'application/openmetrics-text': { type: 'string' }, 'text/plain': { type: 'string' } },
      },
    },
    errors: [503],
  },
];
