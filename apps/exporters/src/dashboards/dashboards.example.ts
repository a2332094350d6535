import type { ProvisioningInput } from './provisioning';

/** The tenant list deploy/grafana is generated from: two tenants, each with a Prometheus of its own. */
export const EXAMPLE_PROVISIONING: ProvisioningInput = {
  prometheus: { url: 'http://prometheus-{tenant}:9090' },
  postgres: { host: 'postgres:5432', database: 'headroom', sslmode: 'require' },
  dashboardsPath: '/etc/grafana/provisioning/dashboards/headroom',
  tenants: [
    { tenant: 'acme', displayName: 'Acme Music' },
    { tenant: 'globex', displayName: 'Globex Audio', metrics: { plays: 'stream_starts' }, sla: { availability: 0.995 } },
  ],
};
