import { sqlLiteral, tenantSlug } from './tenant-dashboards';

/** analytics' window tables (apps/analytics/src/windows/windows.repository.ts, RESOLUTIONS). */
export const WINDOW_TABLES = ['analytics.windows_10s', 'analytics.windows_1m', 'analytics.windows_1h'] as const;

/** The PostgreSQL role a tenant's Grafana datasource logs in as. */
export const readerRole = (tenant: string) => `grafana_${tenantSlug(tenant).toLowerCase().replace(/-/g, '_')}`;

/** The environment variable Grafana expands into that role's password in the datasource file. */
export const readerPasswordEnv = (tenant: string) => `HEADROOM_GRAFANA_PG_PASSWORD_${tenantSlug(tenant).toUpperCase().replace(/-/g, '_')}`;

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;

export interface ReaderSql {
  /** For a role with CREATEROLE: the login role, read-only by default. Passwords are set apart. */
  roles: string[];
  /** For the owner of the analytics schema: grants and one row-level security policy per table. */
  policies: string[];
}

/**
 * One read-only role per tenant, which sees only its tenant's rows of the window tables through
 * row-level security, whatever SQL a dashboard sends. The table owner (analytics itself) is not
 * subject to these policies; any other role reading these tables needs a policy of its own once
 * RLS is on. Partitions get no grant: a reader can only go through the parent, where the policy is.
 */
export function readerSql(tenants: readonly string[]): ReaderSql {
  const roles: string[] = [];
  const policies: string[] = [];
  for (const tenant of tenants) {
    const role = readerRole(tenant);
    roles.push(
      `do $$ begin if not exists (select from pg_roles where rolname = ${sqlLiteral(role)}) then create role ${ident(role)} login; end if; end $$`,
      `alter role ${ident(role)} set default_transaction_read_only = on`,
    );
    policies.push(`grant usage on schema analytics to ${ident(role)}`, `grant select on ${WINDOW_TABLES.join(', ')} to ${ident(role)}`);
    for (const table of WINDOW_TABLES) {
      policies.push(
        `drop policy if exists ${ident(role)} on ${table}`,
        `create policy ${ident(role)} on ${table} for select to ${ident(role)} using (tenant = ${sqlLiteral(tenant)})`,
      );
    }
  }
  return { roles, policies: [...WINDOW_TABLES.map((t) => `alter table ${t} enable row level security`), ...policies] };
}
