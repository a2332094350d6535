/**
 * The credential of a request: `Authorization: Bearer <token>`, or Basic auth with the token as the
 * password (what Grafana's Prometheus data source offers besides custom headers). The username is
 * ignored: who is calling is the token's business, never something the request names.
 */
export function readCredential(authorization: string | string[] | undefined): string | undefined {
  const value = (Array.isArray(authorization) ? authorization[0] : authorization)?.trim();
  if (!value) return undefined;
  const bearer = /^Bearer\s+(\S+)$/i.exec(value);
  if (bearer) return bearer[1];
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(value);
  if (!basic) return undefined;
  const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon >= 0 && colon < decoded.length - 1 ? decoded.slice(colon + 1) : undefined;
}
