import { interpolate, panelQueries } from './panel-queries';
import { readerRole, readerSql } from './postgres-readers';
import { provisioningFiles, type DatasourceEntry } from './provisioning';
import { buildTenantDashboards, DASHBOARD_VIEWS, datasourceUids, tenantSlug } from './tenant-dashboards';

describe('tenant dashboards', () => {
  it('binds every panel of every view to the tenant’s own datasources, and every SQL query to its tenant id', () => {
    for (const tenant of ['acme', "o'brien"]) {
      const uids = datasourceUids(tenant);
      const dashboards = buildTenantDashboards({ tenant });
      expect(dashboards.map((d) => d.view)).toEqual([...DASHBOARD_VIEWS]);
      for (const d of dashboards) {
        const queries = panelQueries(d.dashboard);
        expect(queries.length).toBeGreaterThan(0);
        for (const q of queries) {
          expect([uids.prometheus, uids.postgres]).toContain(q.datasourceUid);
          if (q.kind === 'postgres') expect(q.text).toContain(`tenant = '${tenant.replace(/'/g, "''")}'`);
        }
      }
    }
  });

  it('keeps uids within Grafana’s 40 characters and distinct per tenant, even for long or unusual ids', () => {
    const long = 'x'.repeat(60);
    const all = [long, `${long}y`, 'acme', 'Acme', 'a b'].flatMap((t) => buildTenantDashboards({ tenant: t }).map((d) => d.dashboard.uid!));
    expect(all.every((u) => u.length <= 40 && /^[a-zA-Z0-9_-]+$/.test(u))).toBe(true);
    expect(new Set(all).size).toBe(all.length);
    expect(tenantSlug('acme')).toBe('acme');
  });

  it('uses the tenant’s own metric names where given', () => {
    const business = buildTenantDashboards({ tenant: 'g', metrics: { plays: 'stream_starts' } }).find((d) => d.view === 'business-kpis')!;
    const texts = panelQueries(business.dashboard).map((q) => q.text);
    expect(texts.some((t) => t.includes('stream_starts_sum'))).toBe(true);
    expect(texts.some((t) => /\bplays_sum\b/.test(t))).toBe(false);
  });
});

describe('interpolate', () => {
  const time = { fromMs: 1_000_000, toMs: 8_200_000, intervalMs: 60_000 };
  it('substitutes Grafana’s globals and the dashboard’s variables, braced or not', () => {
    expect(interpolate('sum_over_time(${metric}_sum[$__range]) $__interval $__from $__to', time, { metric: 'plays' })).toBe('sum_over_time(plays_sum[7200s]) 60s 1000000 8200000');
  });
  it('refuses a query that would leave Grafana with a variable unresolved', () => {
    expect(() => interpolate('x{model=~"$model"}', time)).toThrow(/unknown variable \$model/);
  });
});

describe('provisioning', () => {
  const input = {
    prometheus: { url: 'http://mimir:8080/prometheus', tenantHeader: 'X-Scope-OrgID' },
    postgres: { host: 'pg:5432', database: 'headroom', sslmode: 'require' as const },
    tenants: [{ tenant: 'acme', orgId: 3 }, { tenant: 'globex' }],
  };

  it('writes per tenant a datasources file (tenant header from the datasource, reader role, no secret on disk), dashboards under its folder, and one provider per tenant', () => {
    const { files } = provisioningFiles(input);
    const acme = JSON.parse(files.find((f) => f.path === 'datasources/headroom-acme.yaml')!.content) as { datasources: DatasourceEntry[] };
    const [prom, pg] = acme.datasources;
    expect(prom).toMatchObject({ uid: 'hr-prom-acme', orgId: 3, url: 'http://mimir:8080/prometheus', jsonData: { httpHeaderName1: 'X-Scope-OrgID' }, secureJsonData: { httpHeaderValue1: 'acme' } });
    expect(pg).toMatchObject({ uid: 'hr-pg-acme', user: readerRole('acme'), secureJsonData: { password: '$HEADROOM_GRAFANA_PG_PASSWORD_ACME' } });
    expect(files.filter((f) => f.path.startsWith('dashboards/headroom/acme/'))).toHaveLength(DASHBOARD_VIEWS.length);
    const providers = JSON.parse(files.find((f) => f.path === 'dashboards/headroom.yaml')!.content).providers;
    expect(providers.map((p: { folderUid: string; orgId: number }) => [p.folderUid, p.orgId])).toEqual([
      ['hr-acme', 3],
      ['hr-globex', 1],
    ]);
  });

  it('refuses two tenants that would share a uid', () => {
    expect(() => provisioningFiles({ ...input, tenants: [{ tenant: 'acme' }, { tenant: 'acme' }] })).toThrow(/same Grafana uid/);
  });

  it('reader SQL: a read-only login role per tenant, one policy per window table bound to its tenant id (quoted)', () => {
    const sql = readerSql(["o'brien"]);
    expect(sql.roles.join('\n')).toMatch(/default_transaction_read_only = on/);
    expect(sql.policies.filter((s) => s.startsWith('create policy'))).toHaveLength(3);
    expect(sql.policies.every((s) => !s.startsWith('create policy') || s.endsWith("using (tenant = 'o''brien')"))).toBe(true);
  });
});
