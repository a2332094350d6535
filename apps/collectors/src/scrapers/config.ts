import { TenantIdSchema } from '@headroom/contracts';
import { checkUnknownKeys, isObject } from './checks';
import type { ConfigIssue, ScraperFactory } from './scraper';
import { SCRAPERS } from './registry';

/** One configured scraper: its factory, its name (unique; the lease and `scraper` label), its merged config. */
export interface ScraperEntry {
  name: string;
  factory: ScraperFactory;
  config: object;
}

export interface ScrapersConfig {
  /** The tenant the points are published as (created through control). */
  tenant: string;
  intervalMs: number;
  /** A cycle's scrape is abandoned (counted as `timeout`) after this. */
  timeoutMs: number;
  /** How long a replica holds a scraper's lease without renewing it: the failover time after a crash. */
  leaseMs: number;
  scrapers: ScraperEntry[];
}

const TOP_KEYS = ['tenant', 'intervalMs', 'timeoutMs', 'leaseMs', 'scrapers'];
export const MIN_INTERVAL_MS = 500;
export const DEFAULT_INTERVAL_MS = 15_000;

/**
 * Parses and validates `COLLECTORS_SCRAPERS` (JSON), reporting every problem with its path
 * (`scrapers.2.targets.0.url`) at once; each scraper's own settings are checked by its `validate()`
 * after its defaults are merged in.
 */
export function parseScrapersConfig(raw: string, registry: readonly ScraperFactory[] = SCRAPERS): { ok: true; config: ScrapersConfig } | { ok: false; issues: ConfigIssue[] } {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (err) {
    return { ok: false, issues: [{ path: '', message: `is not JSON: ${err instanceof Error ? err.message : String(err)}` }] };
  }
  return validateScrapersConfig(json, registry);
}

export function validateScrapersConfig(json: unknown, registry: readonly ScraperFactory[] = SCRAPERS): { ok: true; config: ScrapersConfig } | { ok: false; issues: ConfigIssue[] } {
  if (!isObject(json)) return { ok: false, issues: [{ path: '', message: 'must be a JSON object { tenant, intervalMs?, scrapers: [...] }' }] };
  const issues: ConfigIssue[] = [];
  checkUnknownKeys(json, TOP_KEYS, '', issues);

  const tenant = json['tenant'];
  if (typeof tenant !== 'string') issues.push({ path: 'tenant', message: 'is required: the id of the tenant the points are published as' });
  else {
    const t = TenantIdSchema.safeParse(tenant);
    if (!t.success) issues.push({ path: 'tenant', message: t.error.issues[0].message });
  }

  const int = (key: string, fallback: number, min: number, max: number): number => {
    const v = json[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      issues.push({ path: key, message: `must be an integer number of milliseconds from ${min} to ${max}` });
      return fallback;
    }
    return v;
  };
  const intervalMs = int('intervalMs', DEFAULT_INTERVAL_MS, MIN_INTERVAL_MS, 3_600_000);
  const timeoutMs = int('timeoutMs', Math.min(intervalMs, 10_000), 100, intervalMs);
  const leaseMs = int('leaseMs', 3 * intervalMs, 2 * intervalMs, 24 * 3_600_000);

  const scrapers: ScraperEntry[] = [];
  const list = json['scrapers'];
  if (!Array.isArray(list)) issues.push({ path: 'scrapers', message: 'must be a list of { "type": "<scraper>", ...settings }' });
  else {
    const names = new Set<string>();
    list.forEach((entry, i) => {
      const base = `scrapers.${i}`;
      if (!isObject(entry)) return issues.push({ path: base, message: 'must be an object { "type": "<scraper>", ...settings }' });
      const { type, name, ...settings } = entry;
      const factory = typeof type === 'string' ? registry.find((s) => s.type === type) : undefined;
      if (!factory) {
        issues.push({ path: `${base}.type`, message: `${type === undefined ? 'is required' : `unknown scraper ${JSON.stringify(type)}`} (known: ${registry.map((s) => s.type).join(', ')})` });
        return undefined;
      }
      const entryName = name ?? type;
      if (typeof entryName !== 'string' || !/^[a-z][a-z0-9_-]{0,62}$/.test(entryName)) {
        issues.push({ path: `${base}.name`, message: 'must be 1-63 chars of a-z, 0-9, _ and -, starting with a letter' });
      } else if (names.has(entryName)) {
        issues.push({ path: `${base}.name`, message: `${JSON.stringify(entryName)} is already used by an earlier scraper: give each of the same type its own "name"` });
      } else names.add(entryName);
      const config = { ...structuredClone(factory.defaultConfig), ...settings };
      for (const issue of factory.validate(config)) issues.push({ path: issue.path ? `${base}.${issue.path}` : base, message: issue.message });
      scrapers.push({ name: String(entryName), factory, config });
      return undefined;
    });
  }
  if (issues.length) return { ok: false, issues };
  return { ok: true, config: { tenant: tenant as string, intervalMs, timeoutMs, leaseMs, scrapers } };
}
