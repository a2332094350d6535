import { readFile, statfs } from 'node:fs/promises';
import { cpus, hostname, loadavg } from 'node:os';
import type { MetricPoint } from '@headroom/contracts';
import { checkStringList, checkUnknownKeys, isObject } from '../checks';
import type { ConfigIssue, ScrapeContext, Scraper, ScraperFactory } from '../scraper';

export interface HostConfig {
  /** Mount points whose usage is reported (fs.statfs). */
  mountPoints: string[];
  /** Network interfaces reported; empty = every interface but `lo`. */
  interfaces: string[];
  /** Where procfs is mounted (a container with the host's /proc mounted elsewhere: `/host/proc`). */
  procPath: string;
}

export const DEFAULT_HOST_CONFIG: HostConfig = { mountPoints: ['/'], interfaces: [], procPath: '/proc' };

/** /proc/stat's `cpu` line columns, in order (USER_HZ ticks). */
const CPU_MODES = ['user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal'] as const;
/** USER_HZ: 100 on every Linux architecture Node runs on (sysconf(_SC_CLK_TCK)). */
const USER_HZ = 100;

export function parseProcStat(text: string): Record<(typeof CPU_MODES)[number], number> | undefined {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) return undefined;
  const cols = line.trim().split(/\s+/).slice(1).map(Number);
  const out = {} as Record<(typeof CPU_MODES)[number], number>;
  CPU_MODES.forEach((m, i) => (out[m] = (cols[i] ?? 0) / USER_HZ));
  return out;
}

/** /proc/meminfo in bytes, by field name. */
export function parseMeminfo(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(\w+(?:\(\w+\))?):\s+(\d+)(?:\s+kB)?/.exec(line);
    if (m) out.set(m[1], Number(m[2]) * (line.includes('kB') ? 1024 : 1));
  }
  return out;
}

/** /proc/net/dev: per interface, receive/transmit bytes, packets, errors, drops. */
export function parseNetDev(text: string): Map<string, { rxBytes: number; rxPackets: number; rxErrors: number; rxDrops: number; txBytes: number; txPackets: number; txErrors: number; txDrops: number }> {
  const out = new Map();
  for (const line of text.split('\n').slice(2)) {
    const [name, rest] = line.split(':');
    if (!rest) continue;
    const c = rest.trim().split(/\s+/).map(Number);
    out.set(name.trim(), { rxBytes: c[0], rxPackets: c[1], rxErrors: c[2], rxDrops: c[3], txBytes: c[8], txPackets: c[9], txErrors: c[10], txDrops: c[11] });
  }
  return out;
}

/**
 * The machine the collecting replica runs on: CPU seconds by mode and utilisation since the last
 * scrape (/proc/stat), memory (/proc/meminfo), load averages, filesystem usage of the configured
 * mount points (statfs), network counters (/proc/net/dev). Every point has `host=<hostname>`.
 */
export const hostScraper: ScraperFactory<HostConfig> = {
  type: 'host',
  defaultConfig: DEFAULT_HOST_CONFIG,

  validate(config: unknown): ConfigIssue[] {
    if (!isObject(config)) return [{ path: '', message: 'must be an object' }];
    const issues: ConfigIssue[] = [];
    checkUnknownKeys(config, Object.keys(DEFAULT_HOST_CONFIG), '', issues);
    if (checkStringList(config, 'mountPoints', '', issues) || Array.isArray(config['mountPoints'])) {
      (config['mountPoints'] as unknown[]).forEach((m, i) => typeof m !== 'string' || m === '' || m.startsWith('/') || issues.push({ path: `mountPoints.${i}`, message: 'must be an absolute path' }));
    }
    checkStringList(config, 'interfaces', '', issues);
    if (typeof config['procPath'] !== 'string' || !config['procPath'].startsWith('/')) issues.push({ path: 'procPath', message: 'must be an absolute path' });
    return issues;
  },

  create(config: HostConfig): Scraper {
    const host = hostname();
    let previousCpu: Record<string, number> | undefined;
    const proc = (f: string) => readFile(`${config.procPath}/${f}`, 'utf8');
    return {
      async collect({ timestamp }: ScrapeContext): Promise<MetricPoint[]> {
        const points: MetricPoint[] = [];
        const add = (name: string, value: number, labels: Record<string, string> = {}, unit?: string) => {
          if (Number.isFinite(value)) points.push({ name, labels: { host, ...labels }, value, timestamp, ...(unit ? { unit } : {}) });
        };

        const cpu = parseProcStat(await proc('stat'));
        if (cpu) {
          for (const [mode, seconds] of Object.entries(cpu)) add('host_cpu_seconds_total', seconds, { mode }, 's');
          const total = (c: Record<string, number>) => Object.values(c).reduce((a, b) => a + b, 0);
          const idle = (c: Record<string, number>) => c['idle'] + c['iowait'];
          const dt = total(cpu) - (previousCpu ? total(previousCpu) : 0);
          const di = idle(cpu) - (previousCpu ? idle(previousCpu) : 0);
          // Since the previous scrape (since boot for the first one).
          if (dt > 0) add('host_cpu_utilisation_ratio', Math.min(1, Math.max(0, 1 - di / dt)));
          previousCpu = cpu;
        }
        add('host_cpu_count', cpus().length);
        const [l1, l5, l15] = loadavg();
        add('host_load1', l1);
        add('host_load5', l5);
        add('host_load15', l15);

        const mem = parseMeminfo(await proc('meminfo'));
        const memTotal = mem.get('MemTotal');
        const memAvailable = mem.get('MemAvailable') ?? mem.get('MemFree');
        if (memTotal !== undefined && memAvailable !== undefined) {
          add('host_memory_total_bytes', memTotal, {}, 'By');
          add('host_memory_available_bytes', memAvailable, {}, 'By');
          add('host_memory_used_bytes', memTotal - memAvailable, {}, 'By');
          if (memTotal > 0) add('host_memory_utilisation_ratio', (memTotal - memAvailable) / memTotal);
        }
        const swapTotal = mem.get('SwapTotal');
        const swapFree = mem.get('SwapFree');
        if (swapTotal !== undefined && swapFree !== undefined) {
          add('host_swap_total_bytes', swapTotal, {}, 'By');
          add('host_swap_used_bytes', swapTotal - swapFree, {}, 'By');
        }

        for (const mountpoint of config.mountPoints) {
          const s = await statfs(mountpoint);
          const size = s.blocks * s.bsize;
          const avail = s.bavail * s.bsize;
          const free = s.bfree * s.bsize;
          add('host_filesystem_size_bytes', size, { mountpoint }, 'By');
          add('host_filesystem_avail_bytes', avail, { mountpoint }, 'By');
          add('host_filesystem_free_bytes', free, { mountpoint }, 'By');
          // Used over what non-root users can use (df's Use%).
          if (size - free + avail > 0) add('host_filesystem_utilisation_ratio', (size - free) / (size - free + avail), { mountpoint });
        }

        const net = parseNetDev(await proc('net/dev'));
        for (const [device, c] of net) {
          if (config.interfaces.length ? !config.interfaces.includes(device) : device === 'lo') continue;
          add('host_network_receive_bytes_total', c.rxBytes, { device }, 'By');
          add('host_network_transmit_bytes_total', c.txBytes, { device }, 'By');
          add('host_network_receive_packets_total', c.rxPackets, { device });
          add('host_network_transmit_packets_total', c.txPackets, { device });
          add('host_network_receive_errors_total', c.rxErrors, { device });
          add('host_network_transmit_errors_total', c.txErrors, { device });
        }
        const uptime = Number((await proc('uptime')).split(' ')[0]);
        add('host_uptime_seconds', uptime, {}, 's');
        return points;
      },
    };
  },
};
