import type { MetricPoint } from '@headroom/contracts';
import { checkInt, checkUnknownKeys, checkUrl, endpointOf, isObject } from '../checks';
import type { ConfigIssue, ScrapeContext, Scraper, ScraperFactory } from '../scraper';

export interface ServiceRuntimeTarget {
  /** A Headroom service's `/metrics` (prom-client's default metrics, prefix `headroom_`). */
  url: string;
  /** The `service` label, e.g. `analytics`. */
  service: string;
}

export interface ServiceRuntimeConfig {
  targets: ServiceRuntimeTarget[];
  timeoutMs: number;
}

export const DEFAULT_SERVICE_RUNTIME_CONFIG: ServiceRuntimeConfig = { targets: [], timeoutMs: 5_000 };

/** prom-client default metric (after the `headroom_` prefix) → the node_runtime scraper's name. */
export const RUNTIME_METRICS: Record<string, [name: string, unit?: string]> = {
  nodejs_eventloop_lag_p50_seconds: ['nodejs_eventloop_lag_p50_seconds', 's'],
  nodejs_eventloop_lag_p99_seconds: ['nodejs_eventloop_lag_p99_seconds', 's'],
  nodejs_eventloop_lag_max_seconds: ['nodejs_eventloop_lag_max_seconds', 's'],
  nodejs_eventloop_lag_mean_seconds: ['nodejs_eventloop_lag_mean_seconds', 's'],
  nodejs_heap_size_used_bytes: ['nodejs_heap_used_bytes', 'By'],
  nodejs_heap_size_total_bytes: ['nodejs_heap_total_bytes', 'By'],
  nodejs_external_memory_bytes: ['nodejs_external_memory_bytes', 'By'],
  process_resident_memory_bytes: ['process_resident_memory_bytes', 'By'],
  process_cpu_user_seconds_total: ['process_cpu_user_seconds_total', 's'],
  process_cpu_system_seconds_total: ['process_cpu_system_seconds_total', 's'],
  nodejs_active_resources_total: ['nodejs_active_resources'],
  process_start_time_seconds: ['process_start_time_seconds', 's'],
};

const PREFIX = 'headroom_';

/** The first sample of each wanted metric in a Prometheus text exposition (`name{labels} value`). */
export function readRuntimeSamples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(PREFIX)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const name = m[1].slice(PREFIX.length);
    if (!(name in RUNTIME_METRICS) || out.has(name)) continue;
    const v = Number(m[2]);
    if (Number.isFinite(v)) out.set(name, v);
  }
  return out;
}

/**
 * The Node runtime of the other Headroom services (and of collectors' other replicas, through
 * their own address): each target's `/metrics` is read and its prom-client process and Node
 * metrics are published under node_runtime's names, labelled `service` and `instance=<host:port>`.
 * A target that does not answer gets `service_runtime_up 0` (the others are still published).
 */
export const serviceRuntimeScraper: ScraperFactory<ServiceRuntimeConfig> = {
  type: 'service_runtime',
  defaultConfig: DEFAULT_SERVICE_RUNTIME_CONFIG,

  validate(config: unknown): ConfigIssue[] {
    if (!isObject(config)) return [{ path: '', message: 'must be an object' }];
    const issues: ConfigIssue[] = [];
    checkUnknownKeys(config, Object.keys(DEFAULT_SERVICE_RUNTIME_CONFIG), '', issues);
    checkInt(config, 'timeoutMs', 100, 60_000, '', issues);
    const targets = config['targets'];
    if (!Array.isArray(targets) || targets.length === 0) issues.push({ path: 'targets', message: 'must list at least one { "url": "http://…/metrics", "service": "<name>" }' });
    else {
      targets.forEach((t, i) => {
        const base = `targets.${i}`;
        if (!isObject(t)) return issues.push({ path: base, message: 'must be an object { url, service }' });
        checkUnknownKeys(t, ['url', 'service'], base, issues);
        checkUrl(t, 'url', ['http:', 'https:'], base, issues);
        if (typeof t['service'] !== 'string' || !/^[a-z][a-z0-9_-]{0,62}$/.test(t['service'])) issues.push({ path: `${base}.service`, message: 'is required: the service name (a-z, 0-9, _ and -)' });
        return undefined;
      });
    }
    return issues;
  },

  create(config: ServiceRuntimeConfig, deps): Scraper {
    // The targets are Headroom services of this deployment: they share its metrics token.
    const headers: Record<string, string> = deps.metricsToken ? { authorization: `Bearer ${deps.metricsToken}` } : {};
    return {
      async collect({ timestamp, signal }: ScrapeContext): Promise<MetricPoint[]> {
        const results = await Promise.all(
          config.targets.map(async (t) => {
            try {
              const res = await fetch(t.url, { headers, signal: AbortSignal.any([AbortSignal.timeout(config.timeoutMs), signal]) });
              if (!res.ok) throw new Error(`HTTP ${res.status}`);
              return readRuntimeSamples(await res.text());
            } catch {
              return undefined;
            }
          }),
        );
        return results.flatMap((samples, i) => {
          const t = config.targets[i];
          const labels = { service: t.service, instance: endpointOf(t.url, new URL(t.url).protocol === 'https:' ? 443 : 80) };
          const points: MetricPoint[] = [{ name: 'service_runtime_up', labels, value: samples ? 1 : 0, timestamp }];
          for (const [name, value] of samples ?? []) {
            const [out, unit] = RUNTIME_METRICS[name];
            points.push({ name: out, labels, value, timestamp, ...(unit ? { unit } : {}) });
          }
          return points;
        });
      },
    };
  },
};
