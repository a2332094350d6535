import { bearerToken, TenantDirectory } from '@headroom/tenancy';

/**
 * The API key of a request: `Authorization: Bearer hr_…`, or Basic auth with the key as the
 * password (what Grafana's Prometheus data source offers besides custom headers). The username is
 * ignored: the tenant is the key's, never something the request names.
 */
export function readKey(authorization: string | string[] | undefined): string | undefined {
  const bearer = bearerToken(authorization);
  if (bearer) return bearer;
  const value = Array.isArray(authorization) ? authorization[0] : authorization;
  const basic = value ? /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(value.trim()) : null;
  if (!basic) return undefined;
  const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon >= 0 ? decoded.slice(colon + 1) : undefined;
}

/** The calling tenant, from a key with the `read` scope; undefined when there is none. */
export function readTenant(directory: TenantDirectory, authorization: string | string[] | undefined): string | undefined {
  return directory.authenticate(readKey(authorization), 'read')?.tenant;
}
