import { createHash } from 'node:crypto';
import * as common from '@grafana/grafana-foundation-sdk/common';
import { DashboardBuilder, QueryVariableBuilder, VariableRefresh, VariableSort, type Dashboard, type DataSourceRef } from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder as PromQuery, PromQueryFormat } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatPanel } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TablePanel } from '@grafana/grafana-foundation-sdk/table';
import { PanelBuilder as TimeseriesPanel } from '@grafana/grafana-foundation-sdk/timeseries';
import { POSTGRES_DATASOURCE_TYPE, PostgresQueryBuilder } from './postgres-query';
import { quantileSelector as q, windowSeries as s } from './window-series';

/** The views the seeds list (monitoring README: Vue Globale, Vue Tenant, Vue Technique, Vue Business, Security, SLA; collectors: ML). */
export const DASHBOARD_VIEWS = ['overview', 'tenant-metrics', 'infrastructure', 'business-kpis', 'security', 'ml-models', 'sla'] as const;
export type DashboardView = (typeof DASHBOARD_VIEWS)[number];

/**
 * The metric names the views read, as tenants send them to Headroom. A tenant whose names differ
 * passes its own (e.g. `{ plays: 'stream_starts' }`).
 */
export const DEFAULT_DASHBOARD_METRICS = {
  /** One point per request, value = latency in ms; label `route`. Its `_count` is the request count. */
  requestLatency: 'http_request_duration_ms',
  /** One point per failed request (value 1); label `route`. */
  requestErrors: 'http_errors',
  /** Labels `host`. */
  cpu: 'cpu_usage_percent',
  memory: 'memory_usage_bytes',
  diskIo: 'disk_io_bytes',
  network: 'network_bytes',
  /** Label `queue`. */
  queueDepth: 'queue_depth',
  /** One point per batch of plays (value = plays). */
  plays: 'plays',
  /** Value = revenue in EUR of one transaction. */
  revenue: 'revenue',
  /** Value = the active-user gauge as the tenant samples it. */
  activeUsers: 'active_users',
  /** One point per failed login (value 1); labels `reason`, `source`. */
  failedLogins: 'failed_logins',
  /** Label `model` on the three. */
  modelLatency: 'model_inference_latency_ms',
  modelAccuracy: 'model_accuracy',
  modelDrift: 'model_drift_score',
} as const;
export type DashboardMetrics = { [K in keyof typeof DEFAULT_DASHBOARD_METRICS]: string };

/** Objectives the SLA view measures against. */
export interface SlaObjectives {
  /** Target availability, e.g. 0.999. */
  availability: number;
  /** p99 latency objective in ms. */
  p99LatencyMs: number;
}
export const DEFAULT_SLA: SlaObjectives = { availability: 0.999, p99LatencyMs: 300 };

export interface TenantDashboardInput {
  tenant: string;
  displayName?: string;
  metrics?: Partial<DashboardMetrics>;
  sla?: Partial<SlaObjectives>;
}

/**
 * Grafana uids are at most 40 characters of [a-zA-Z0-9-_]. A tenant id that fits is kept readable;
 * a longer or unusual one is shortened with a hash so two tenants never share a uid.
 */
export function tenantSlug(tenant: string): string {
  const clean = tenant.replace(/[^a-zA-Z0-9_-]/g, '-');
  if (clean === tenant && clean.length <= 22) return clean;
  return `${clean.slice(0, 13)}-${createHash('sha256').update(tenant).digest('hex').slice(0, 8)}`;
}

export const datasourceUids = (tenant: string) => ({ prometheus: `hr-prom-${tenantSlug(tenant)}`, postgres: `hr-pg-${tenantSlug(tenant)}` });
export const folderUid = (tenant: string) => `hr-${tenantSlug(tenant)}`;
export const dashboardUid = (tenant: string, view: DashboardView) => `hr-${tenantSlug(tenant)}-${view}`;

/** A SQL string literal (standard_conforming_strings on, the default since PostgreSQL 9.1). */
export const sqlLiteral = (value: string) => `'${value.replace(/'/g, "''")}'`;

export interface TenantDashboard {
  tenant: string;
  view: DashboardView;
  dashboard: Dashboard;
}

/** Builds every view for one tenant, each bound to the tenant's own datasources by uid. */
export function buildTenantDashboards(input: TenantDashboardInput): TenantDashboard[] {
  const ctx = context(input);
  const views: Record<DashboardView, (c: ViewContext) => DashboardBuilder> = {
    overview,
    'tenant-metrics': tenantMetrics,
    infrastructure,
    'business-kpis': businessKpis,
    security,
    'ml-models': mlModels,
    sla,
  };
  return DASHBOARD_VIEWS.map((view) => ({ tenant: input.tenant, view, dashboard: views[view](ctx).uid(dashboardUid(input.tenant, view)).build() }));
}

interface ViewContext {
  tenant: string;
  name: string;
  m: DashboardMetrics;
  sla: SlaObjectives;
  prom: DataSourceRef;
  pg: DataSourceRef;
  /** `tenant = '<id>'`: baked into every SQL query, on top of the datasource's row-level security. */
  tenantFilter: string;
}

function context(input: TenantDashboardInput): ViewContext {
  const uids = datasourceUids(input.tenant);
  return {
    tenant: input.tenant,
    name: input.displayName ?? input.tenant,
    m: { ...DEFAULT_DASHBOARD_METRICS, ...input.metrics },
    sla: { ...DEFAULT_SLA, ...input.sla },
    prom: { type: 'prometheus', uid: uids.prometheus },
    pg: { type: POSTGRES_DATASOURCE_TYPE, uid: uids.postgres },
    tenantFilter: `tenant = ${sqlLiteral(input.tenant)}`,
  };
}

function base(c: ViewContext, title: string, view: DashboardView): DashboardBuilder {
  return new DashboardBuilder(`${c.name} — ${title}`)
    .tags(['headroom', `headroom-view:${view}`])
    .description(`Headroom ${title.toLowerCase()} of tenant ${c.tenant}. Provisioned: edit the generator, not this dashboard.`)
    .time({ from: 'now-6h', to: 'now' })
    .refresh('30s')
    .timezone('browser')
    .readonly();
}

const promRange = (c: ViewContext, expr: string, legend: string, refId = 'A') =>
  new PromQuery().datasource(c.prom).refId(refId).expr(expr).legendFormat(legend).range();
const promInstant = (c: ViewContext, expr: string, legend: string, refId = 'A') =>
  new PromQuery().datasource(c.prom).refId(refId).expr(expr).legendFormat(legend).instant();
const promTable = (c: ViewContext, expr: string, refId = 'A') =>
  new PromQuery().datasource(c.prom).refId(refId).expr(expr).format(PromQueryFormat.Table).instant();
const sql = (c: ViewContext, rawSql: string, format: 'table' | 'time_series' = 'table', refId = 'A') =>
  new PostgresQueryBuilder(rawSql).datasource(c.pg).refId(refId).format(format);

const series = (c: ViewContext, title: string, unit: string) => new TimeseriesPanel().title(title).datasource(c.prom).unit(unit).span(12).height(8);
const stat = (c: ViewContext, title: string, unit: string, ds = c.prom) =>
  new StatPanel()
    .title(title)
    .datasource(ds)
    .unit(unit)
    .span(6)
    .height(4)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']));
const table = (c: ViewContext, title: string, ds = c.prom) => new TablePanel().title(title).datasource(ds).span(12).height(8);

/** analytics' window tables cover the dashboard's time range by `window_start` (ms since epoch). */
const inRange = 'window_start >= $__from and window_start < $__to';

function overview(c: ViewContext): DashboardBuilder {
  const { m } = c;
  return base(c, 'Overview', 'overview')
    .withPanel(stat(c, 'Points ingested', 'short', c.pg).withTarget(sql(c, `select sum(count) as points from analytics.windows_10s where ${c.tenantFilter} and ${inRange}`)))
    .withPanel(stat(c, 'Active series', 'short', c.pg).withTarget(sql(c, `select count(distinct series_id) as series from analytics.windows_10s where ${c.tenantFilter} and ${inRange}`)))
    .withPanel(stat(c, 'Request latency p99', 'ms').withTarget(promInstant(c, `max(max_over_time(${q(m.requestLatency, '0.99')}[$__range]))`, 'p99')))
    .withPanel(
      stat(c, 'Availability', 'percentunit').withTarget(
        promInstant(c, `1 - sum(sum_over_time(${s(m.requestErrors, 'sum')}[$__range])) / sum(sum_over_time(${s(m.requestLatency, 'count')}[$__range]))`, 'availability'),
      ),
    )
    .withPanel(
      new TimeseriesPanel()
        .title('Points per minute (analytics store)')
        .datasource(c.pg)
        .unit('short')
        .span(12)
        .height(8)
        .withTarget(
          sql(c, `select to_timestamp(window_start / 1000.0) as time, sum(count) as points from analytics.windows_1m where ${c.tenantFilter} and ${inRange} group by window_start order by window_start`, 'time_series'),
        ),
    )
    .withPanel(series(c, 'Plays per window', 'short').withTarget(promRange(c, `sum(${s(m.plays, 'sum')})`, 'plays')));
}

function tenantMetrics(c: ViewContext): DashboardBuilder {
  // Every metric the tenant sends has a `_count` series; the variable lists them by their base name.
  const metric = new QueryVariableBuilder('metric')
    .label('Metric')
    .datasource(c.prom)
    .query({ qryType: 1, query: 'label_values({__name__=~".+_count"}, __name__)', refId: 'PrometheusVariableQueryEditor-VariableQuery' })
    .regex('/^(.+)_count$/')
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalAsc);
  return base(c, 'Tenant metrics', 'tenant-metrics')
    .withVariable(metric)
    .withPanel(
      series(c, '$metric quantiles per window', 'short')
        .withTarget(promRange(c, 'max by (quantile) ($metric{quantile=~"0.5|0.95|0.99"})', 'p{{quantile}}'))
        .withTarget(promRange(c, 'max(${metric}_max)', 'max', 'B')),
    )
    .withPanel(series(c, '$metric points per window', 'short').withTarget(promRange(c, 'sum(${metric}_count)', 'points')))
    .withPanel(
      table(c, 'Series in the analytics store (1 min windows)', c.pg).withTarget(
        sql(
          c,
          `select name, labels::text as labels, sum(count) as points, min(min) as min, max(max) as max from analytics.windows_1m where ${c.tenantFilter} and ${inRange} group by name, labels::text order by name, labels`,
        ),
      ),
    );
}

function infrastructure(c: ViewContext): DashboardBuilder {
  const { m } = c;
  return base(c, 'Infrastructure', 'infrastructure')
    .withPanel(series(c, 'CPU usage (mean per window)', 'percent').withTarget(promRange(c, `avg by (host) (${s(m.cpu, 'sum')} / ${s(m.cpu, 'count')})`, '{{host}}')))
    .withPanel(series(c, 'Memory usage (max per window)', 'bytes').withTarget(promRange(c, `max by (host) (${s(m.memory, 'max')})`, '{{host}}')))
    .withPanel(series(c, 'Disk I/O per window', 'bytes').withTarget(promRange(c, `sum by (host) (${s(m.diskIo, 'sum')})`, '{{host}}')))
    .withPanel(series(c, 'Network traffic per window', 'bytes').withTarget(promRange(c, `sum by (host, direction) (${s(m.network, 'sum')})`, '{{host}} {{direction}}')))
    .withPanel(series(c, 'Queue depth (max per window)', 'short').withTarget(promRange(c, `max by (queue) (${s(m.queueDepth, 'max')})`, '{{queue}}')));
}

function businessKpis(c: ViewContext): DashboardBuilder {
  const { m } = c;
  return base(c, 'Business KPIs', 'business-kpis')
    .withPanel(stat(c, 'Plays', 'short').withTarget(promInstant(c, `sum(sum_over_time(${s(m.plays, 'sum')}[$__range]))`, 'plays')))
    .withPanel(stat(c, 'Revenue', 'currencyEUR').withTarget(promInstant(c, `sum(sum_over_time(${s(m.revenue, 'sum')}[$__range]))`, 'revenue')))
    .withPanel(stat(c, 'Active users (peak)', 'short').withTarget(promInstant(c, `max(max_over_time(${s(m.activeUsers, 'max')}[$__range]))`, 'active users')))
    .withPanel(series(c, 'Plays per window', 'short').withTarget(promRange(c, `sum(${s(m.plays, 'sum')})`, 'plays')))
    .withPanel(series(c, 'Active users', 'short').withTarget(promRange(c, `max(${s(m.activeUsers, 'max')})`, 'active users')))
    .withPanel(
      new TimeseriesPanel()
        .title('Revenue per hour (analytics store)')
        .datasource(c.pg)
        .unit('currencyEUR')
        .span(12)
        .height(8)
        .withTarget(
          sql(
            c,
            `select to_timestamp(window_start / 1000.0) as time, sum(sum) as revenue from analytics.windows_1h where ${c.tenantFilter} and name = ${sqlLiteral(m.revenue)} and ${inRange} group by window_start order by window_start`,
            'time_series',
          ),
        ),
    );
}

function security(c: ViewContext): DashboardBuilder {
  const { m } = c;
  return base(c, 'Security', 'security')
    .withPanel(stat(c, 'Failed logins', 'short').withTarget(promInstant(c, `sum(sum_over_time(${s(m.failedLogins, 'sum')}[$__range]))`, 'failed logins')))
    .withPanel(series(c, 'Failed logins by reason', 'short').withTarget(promRange(c, `sum by (reason) (${s(m.failedLogins, 'sum')})`, '{{reason}}')))
    .withPanel(table(c, 'Top sources of failed logins').withTarget(promTable(c, `topk(10, sum by (source) (sum_over_time(${s(m.failedLogins, 'sum')}[$__range])))`)));
}

function mlModels(c: ViewContext): DashboardBuilder {
  const { m } = c;
  const model = new QueryVariableBuilder('model')
    .label('Model')
    .datasource(c.prom)
    .query({ qryType: 1, query: `label_values(${s(m.modelAccuracy, 'count')}, model)`, refId: 'PrometheusVariableQueryEditor-VariableQuery' })
    .includeAll(true)
    .allValue('.+')
    .multi(true)
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalAsc);
  const sel = 'model=~"$model"';
  return base(c, 'ML models', 'ml-models')
    .withVariable(model)
    .withPanel(series(c, 'Inference latency p95', 'ms').withTarget(promRange(c, `max by (model) (${q(m.modelLatency, '0.95', [sel])})`, '{{model}}')))
    .withPanel(
      series(c, 'Accuracy (mean per window)', 'percentunit').withTarget(
        promRange(c, `avg by (model) (${s(m.modelAccuracy, 'sum')}{${sel}} / ${s(m.modelAccuracy, 'count')}{${sel}})`, '{{model}}'),
      ),
    )
    .withPanel(series(c, 'Drift score (max per window)', 'short').withTarget(promRange(c, `max by (model) (${s(m.modelDrift, 'max')}{${sel}})`, '{{model}}')))
    .withPanel(table(c, 'Models over the range').withTarget(promTable(c, `max by (model) (max_over_time(${s(m.modelDrift, 'max')}{${sel}}[$__range]))`)));
}

function sla(c: ViewContext): DashboardBuilder {
  const { m } = c;
  const errors = `sum(sum_over_time(${s(m.requestErrors, 'sum')}[$__range]))`;
  const requests = `sum(sum_over_time(${s(m.requestLatency, 'count')}[$__range]))`;
  return base(c, 'SLA', 'sla')
    .withPanel(stat(c, `Availability (objective ${c.sla.availability * 100}%)`, 'percentunit').withTarget(promInstant(c, `1 - ${errors} / ${requests}`, 'availability')))
    .withPanel(
      stat(c, 'Error budget left', 'percentunit').withTarget(promInstant(c, `1 - (${errors} / ${requests}) / ${(1 - c.sla.availability).toPrecision(6)}`, 'budget left')),
    )
    .withPanel(
      stat(c, `Windows within p99 ≤ ${c.sla.p99LatencyMs} ms`, 'percentunit').withTarget(
        promInstant(c, `avg_over_time((max(${q(m.requestLatency, '0.99')}) <= bool ${c.sla.p99LatencyMs})[$__range:$__interval])`, 'within objective'),
      ),
    )
    .withPanel(
      series(c, 'Error ratio per window', 'percentunit').withTarget(promRange(c, `sum(${s(m.requestErrors, 'sum')}) / sum(${s(m.requestLatency, 'count')})`, 'error ratio')),
    )
    .withPanel(
      new TimeseriesPanel()
        .title('Hourly availability (analytics store)')
        .datasource(c.pg)
        .unit('percentunit')
        .span(12)
        .height(8)
        .withTarget(
          sql(
            c,
            `select to_timestamp(window_start / 1000.0) as time, 1 - coalesce(sum(sum) filter (where name = ${sqlLiteral(m.requestErrors)}), 0) / nullif(sum(count) filter (where name = ${sqlLiteral(m.requestLatency)}), 0) as availability from analytics.windows_1h where ${c.tenantFilter} and name in (${sqlLiteral(m.requestErrors)}, ${sqlLiteral(m.requestLatency)}) and ${inRange} group by window_start order by window_start`,
            'time_series',
          ),
        ),
    );
}
