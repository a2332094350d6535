import { monitorEventLoopDelay } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import type { MetricPoint } from '@headroom/contracts';
import { checkInt, checkUnknownKeys, isObject } from '../checks';
import type { ConfigIssue, ScrapeContext, Scraper, ScraperDeps, ScraperFactory } from '../scraper';

export interface NodeRuntimeConfig {
  /** Sampling resolution of the event-loop delay histogram (perf_hooks). */
  resolutionMs: number;
}

export const DEFAULT_NODE_RUNTIME_CONFIG: NodeRuntimeConfig = { resolutionMs: 10 };

/**
 * The collectors process itself — on every replica (`scope: replica`), labelled
 * `service=collectors, instance=<hostname>/<pid>`: event-loop delay since the previous scrape
 * (p50/p99/max, perf_hooks), heap, RSS, CPU seconds, active handles, uptime.
 */
export const nodeRuntimeScraper: ScraperFactory<NodeRuntimeConfig> = {
  type: 'node_runtime',
  scope: 'replica',
  defaultConfig: DEFAULT_NODE_RUNTIME_CONFIG,

  validate(config: unknown): ConfigIssue[] {
    if (!isObject(config)) return [{ path: '', message: 'must be an object' }];
    const issues: ConfigIssue[] = [];
    checkUnknownKeys(config, Object.keys(DEFAULT_NODE_RUNTIME_CONFIG), '', issues);
    checkInt(config, 'resolutionMs', 1, 1_000, '', issues);
    return issues;
  },

  create(config: NodeRuntimeConfig, deps: ScraperDeps): Scraper {
    const delay = monitorEventLoopDelay({ resolution: config.resolutionMs });
    delay.enable();
    const base = { service: 'collectors', instance: deps.instance };
    return {
      async collect({ timestamp }: ScrapeContext): Promise<MetricPoint[]> {
        const points: MetricPoint[] = [];
        const add = (name: string, value: number, unit?: string) => {
          if (Number.isFinite(value)) points.push({ name, labels: base, value, timestamp, ...(unit ? { unit } : {}) });
        };
        // The histogram is in nanoseconds; empty (no sample yet) reads as NaN and is skipped.
        if (delay.count > 0) {
          add('nodejs_eventloop_lag_p50_seconds', delay.percentile(50) / 1e9, 's');
          add('nodejs_eventloop_lag_p99_seconds', delay.percentile(99) / 1e9, 's');
          add('nodejs_eventloop_lag_max_seconds', delay.max / 1e9, 's');
          add('nodejs_eventloop_lag_mean_seconds', delay.mean / 1e9, 's');
        }
        delay.reset();
        const mem = process.memoryUsage();
        add('nodejs_heap_used_bytes', mem.heapUsed, 'By');
        add('nodejs_heap_total_bytes', mem.heapTotal, 'By');
        add('nodejs_heap_limit_bytes', getHeapStatistics().heap_size_limit, 'By');
        add('nodejs_external_memory_bytes', mem.external, 'By');
        add('process_resident_memory_bytes', mem.rss, 'By');
        const cpu = process.cpuUsage();
        add('process_cpu_user_seconds_total', cpu.user / 1e6, 's');
        add('process_cpu_system_seconds_total', cpu.system / 1e6, 's');
        add('nodejs_active_resources', process.getActiveResourcesInfo().length);
        add('process_uptime_seconds', process.uptime(), 's');
        return points;
      },
      async close() {
        delay.disable();
      },
    };
  },
};
