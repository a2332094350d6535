import type { MetricPoint } from '@headroom/contracts';
import { checkInt, checkUnknownKeys, checkUrl, isObject } from '../checks';
import type { ConfigIssue, ScrapeContext, Scraper, ScraperFactory } from '../scraper';

export interface HttpProbeTarget {
  url: string;
  /** GET (default) or HEAD. */
  method?: 'GET' | 'HEAD';
  /** Status codes that count as success; default: any 2xx. */
  expectStatus?: number[];
}

export interface HttpProbeConfig {
  targets: HttpProbeTarget[];
  /** Per request; a probe slower than this fails with status 0. */
  timeoutMs: number;
}

export const DEFAULT_HTTP_PROBE_CONFIG: HttpProbeConfig = { targets: [], timeoutMs: 5_000 };

const TARGET_KEYS = ['url', 'method', 'expectStatus'];

/** The URL as a label: without credentials (a probe URL may carry some). */
export function targetLabel(url: string): string {
  const u = new URL(url);
  u.username = '';
  u.password = '';
  return u.toString();
}

/**
 * Blackbox-style HTTP probes: for each target, `probe_success` (0/1), `probe_http_status_code`
 * (0 when there was no answer) and `probe_duration_seconds`, labelled `target=<url>`. Probes run
 * concurrently; redirects are not followed (a 3xx is what the URL answers).
 */
export const httpProbeScraper: ScraperFactory<HttpProbeConfig> = {
  type: 'http_probe',
  defaultConfig: DEFAULT_HTTP_PROBE_CONFIG,

  validate(config: unknown): ConfigIssue[] {
    if (!isObject(config)) return [{ path: '', message: 'must be an object' }];
    const issues: ConfigIssue[] = [];
    checkUnknownKeys(config, Object.keys(DEFAULT_HTTP_PROBE_CONFIG), '', issues);
    checkInt(config, 'timeoutMs', 100, 60_000, '', issues);
    const targets = config['targets'];
    if (!Array.isArray(targets)) issues.push({ path: 'targets', message: 'must be a list of { url }' });
    else if (targets.length === 0) issues.push({ path: 'targets', message: 'must list at least one target ({ "url": "https://…" })' });
    else {
      const seen = new Set<string>();
      targets.forEach((t, i) => {
        const base = `targets.${i}`;
        if (!isObject(t)) return issues.push({ path: base, message: 'must be an object { url, method?, expectStatus? }' });
        checkUnknownKeys(t, TARGET_KEYS, base, issues);
        if (checkUrl(t, 'url', ['http:', 'https:'], base, issues)) {
          const key = `${String(t['method'] ?? 'GET')} ${targetLabel(t['url'] as string)}`;
          if (seen.has(key)) issues.push({ path: `${base}.url`, message: 'is already probed by an earlier target' });
          seen.add(key);
        }
        if (t['method'] !== undefined && t['method'] !== 'GET' && t['method'] !== 'HEAD') issues.push({ path: `${base}.method`, message: 'must be GET or HEAD' });
        const es = t['expectStatus'];
        if (es !== undefined && (!Array.isArray(es) || es.length === 0 || es.some((s) => !Number.isInteger(s) || s < 100 || s > 599))) {
          issues.push({ path: `${base}.expectStatus`, message: 'must be a non-empty list of HTTP status codes (100-599)' });
        }
        return undefined;
      });
    }
    return issues;
  },

  create(config: HttpProbeConfig): Scraper {
    return {
      async collect({ timestamp, signal }: ScrapeContext): Promise<MetricPoint[]> {
        const results = await Promise.all(config.targets.map((t) => probe(t, config.timeoutMs, signal)));
        return results.flatMap((r, i) => {
          const labels = { target: targetLabel(config.targets[i].url) };
          return [
            { name: 'probe_success', labels, value: r.success ? 1 : 0, timestamp },
            { name: 'probe_http_status_code', labels, value: r.status, timestamp },
            { name: 'probe_duration_seconds', labels, value: r.seconds, timestamp, unit: 's' },
          ];
        });
      },
    };
  },
};

async function probe(t: HttpProbeTarget, timeoutMs: number, cycle: AbortSignal): Promise<{ success: boolean; status: number; seconds: number }> {
  const started = process.hrtime.bigint();
  const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
  try {
    const res = await fetch(t.url, { method: t.method ?? 'GET', redirect: 'manual', signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), cycle]) });
    // The whole answer, as a client would get it.
    await res.arrayBuffer();
    const success = t.expectStatus ? t.expectStatus.includes(res.status) : res.status >= 200 && res.status < 300;
    return { success, status: res.status, seconds: seconds() };
  } catch {
    return { success: false, status: 0, seconds: seconds() };
  }
}
