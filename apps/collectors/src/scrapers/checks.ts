import type { ConfigIssue } from './scraper';

/** Small helpers for validate(): each pushes an issue with its path and returns whether the value was fine. */
export type Obj = Record<string, unknown>;

export function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const join = (base: string, key: string) => (base ? `${base}.${key}` : key);

export function checkUnknownKeys(o: Obj, allowed: readonly string[], base: string, issues: ConfigIssue[]): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) issues.push({ path: join(base, k), message: `unknown setting (known: ${allowed.join(', ')})` });
  }
}

export function checkInt(o: Obj, key: string, min: number, max: number, base: string, issues: ConfigIssue[]): boolean {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    issues.push({ path: join(base, key), message: `must be an integer from ${min} to ${max}` });
    return false;
  }
  return true;
}

export function checkUrl(o: Obj, key: string, protocols: readonly string[], base: string, issues: ConfigIssue[]): boolean {
  const v = o[key];
  const path = join(base, key);
  if (typeof v !== 'string' || v === '') {
    issues.push({ path, message: `is required: a ${protocols.map((p) => `${p}//`).join(' or ')} URL` });
    return false;
  }
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    issues.push({ path, message: 'is not a URL' });
    return false;
  }
  if (!protocols.includes(url.protocol)) {
    issues.push({ path, message: `must be a ${protocols.map((p) => `${p}//`).join(' or ')} URL, got ${url.protocol}//` });
    return false;
  }
  return true;
}

export function checkStringList(o: Obj, key: string, base: string, issues: ConfigIssue[], opts: { nonEmpty?: boolean } = {}): boolean {
  const v = o[key];
  const path = join(base, key);
  if (!Array.isArray(v)) {
    issues.push({ path, message: 'must be a list of strings' });
    return false;
  }
  let ok = true;
  v.forEach((s, i) => {
    if (typeof s !== 'string' || s === '') {
      issues.push({ path: `${path}.${i}`, message: 'must be a non-empty string' });
      ok = false;
    }
  });
  if (opts.nonEmpty && v.length === 0) {
    issues.push({ path, message: 'must list at least one' });
    ok = false;
  }
  return ok;
}

/** host:port of a URL, without credentials, path or query: safe as a label and in logs. */
export function endpointOf(url: string, defaultPort: number): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port || defaultPort}`;
}
