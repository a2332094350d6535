import { POSTGRES_DATASOURCE_TYPE } from './postgres-query';
import { readerPasswordEnv, readerRole, readerSql } from './postgres-readers';
import { buildTenantDashboards, datasourceUids, folderUid, tenantSlug, type TenantDashboard, type TenantDashboardInput } from './tenant-dashboards';

/**
 * Where each tenant's Prometheus-compatible data lives. Isolation comes from here, never from a
 * label in a dashboard: either the tenant has a store of its own (`url` with `{tenant}`), or a
 * multi-tenant store (Mimir, Cortex, VictoriaMetrics cluster) enforces the tenant header the
 * datasource sends (`tenantHeader`, e.g. `X-Scope-OrgID`).
 */
export interface PrometheusTarget {
  /** e.g. `http://prometheus-{tenant}:9090` or `http://mimir:8080/prometheus`. `{tenant}` is replaced by the tenant id. */
  url: string;
  tenantHeader?: string;
}

export interface PostgresTarget {
  /** host:port */
  host: string;
  database: string;
  sslmode: 'disable' | 'require' | 'verify-ca' | 'verify-full';
}

export interface ProvisioningTenant extends TenantDashboardInput {
  /** Grafana organisation (default 1). One organisation per tenant is the strongest separation: see docs/dashboards.md. */
  orgId?: number;
  /** Overrides the shared target for this tenant. */
  prometheusUrl?: string;
}

export interface ProvisioningInput {
  prometheus: PrometheusTarget;
  postgres: PostgresTarget;
  tenants: ProvisioningTenant[];
  /** Where Grafana will find the dashboards directory (the provider's `options.path`). */
  dashboardsPath?: string;
}

export interface ProvisioningFile {
  /** Relative to Grafana's provisioning directory. */
  path: string;
  content: string;
}

/** A datasource entry of Grafana's provisioning format (apiVersion 1). */
export interface DatasourceEntry {
  name: string;
  uid: string;
  type: string;
  access: 'proxy';
  orgId: number;
  url: string;
  user?: string;
  editable: false;
  jsonData: Record<string, unknown>;
  secureJsonData?: Record<string, string>;
}

export function prometheusUrl(input: ProvisioningInput, tenant: ProvisioningTenant): string {
  return (tenant.prometheusUrl ?? input.prometheus.url).replace(/\{tenant\}/g, encodeURIComponent(tenant.tenant));
}

export function tenantDatasources(input: ProvisioningInput, tenant: ProvisioningTenant): DatasourceEntry[] {
  const uids = datasourceUids(tenant.tenant);
  const orgId = tenant.orgId ?? 1;
  const label = tenant.displayName ?? tenant.tenant;
  const header = input.prometheus.tenantHeader;
  return [
    {
      name: `Headroom ${label} (Prometheus)`,
      uid: uids.prometheus,
      type: 'prometheus',
      access: 'proxy',
      orgId,
      url: prometheusUrl(input, tenant),
      editable: false,
      // Windows are 10 s apart: a smaller step only repeats samples.
      jsonData: { httpMethod: 'POST', timeInterval: '10s', ...(header ? { httpHeaderName1: header } : {}) },
      ...(header ? { secureJsonData: { httpHeaderValue1: tenant.tenant } } : {}),
    },
    {
      name: `Headroom ${label} (analytics)`,
      uid: uids.postgres,
      type: POSTGRES_DATASOURCE_TYPE,
      access: 'proxy',
      orgId,
      url: input.postgres.host,
      user: readerRole(tenant.tenant),
      editable: false,
      jsonData: { database: input.postgres.database, sslmode: input.postgres.sslmode, postgresVersion: 1500, timescaledb: false, maxOpenConns: 5 },
      // Grafana expands $VARIABLES in provisioning files when it reads them: no secret on disk.
      secureJsonData: { password: `$${readerPasswordEnv(tenant.tenant)}` },
    },
  ];
}

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

/**
 * Grafana's provisioning tree for a tenant list: per tenant a datasources file, a dashboard provider
 * with its own folder, and the dashboards' JSON; plus the SQL for the read-only database roles.
 * YAML files are written as JSON, which is YAML too, so no serialiser can change their meaning.
 */
export function provisioningFiles(input: ProvisioningInput): { files: ProvisioningFile[]; dashboards: TenantDashboard[] } {
  const dashboardsPath = input.dashboardsPath ?? '/etc/grafana/provisioning/dashboards/headroom';
  const files: ProvisioningFile[] = [];
  const dashboards: TenantDashboard[] = [];
  const slugs = new Map<string, string>();
  for (const tenant of input.tenants) {
    const slug = tenantSlug(tenant.tenant);
    if (slugs.has(slug)) throw new Error(`tenants ${slugs.get(slug)} and ${tenant.tenant} map to the same Grafana uid ${slug}`);
    slugs.set(slug, tenant.tenant);
    files.push({ path: `datasources/headroom-${slug}.yaml`, content: json({ apiVersion: 1, datasources: tenantDatasources(input, tenant) }) });
    for (const d of buildTenantDashboards(tenant)) {
      dashboards.push(d);
      files.push({ path: `dashboards/headroom/${slug}/${d.view}.json`, content: json(d.dashboard) });
    }
  }
  const providers = input.tenants.map((t) => ({
    name: `headroom-${tenantSlug(t.tenant)}`,
    orgId: t.orgId ?? 1,
    folder: t.displayName ?? t.tenant,
    folderUid: folderUid(t.tenant),
    type: 'file',
    disableDeletion: true,
    allowUiUpdates: false,
    updateIntervalSeconds: 60,
    options: { path: `${dashboardsPath}/${tenantSlug(t.tenant)}` },
  }));
  files.push({ path: 'dashboards/headroom.yaml', content: json({ apiVersion: 1, providers }) });
  const sql = readerSql(input.tenants.map((t) => t.tenant));
  files.push({
    path: 'postgres/readers-roles.sql',
    content: `-- Run as a role with CREATEROLE. Then set each password: alter role ... password '...';\n${sql.roles.map((s) => `${s};`).join('\n')}\n`,
  });
  files.push({ path: 'postgres/readers-policies.sql', content: `-- Run as the owner of the analytics schema.\n${sql.policies.map((s) => `${s};`).join('\n')}\n` });
  return { files, dashboards };
}
