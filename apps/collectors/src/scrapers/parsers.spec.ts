import { parseMeminfo, parseNetDev, parseProcStat } from './host/host.scraper';
import { targetLabel } from './http-probe/http-probe.scraper';
import { parseInfo } from './redis/redis.scraper';
import { endpointOf } from './checks';
import { readRuntimeSamples } from './service-runtime/service-runtime.scraper';

describe('scraper parsers', () => {
  it('reads /proc/stat, /proc/meminfo and /proc/net/dev', () => {
    expect(parseProcStat('cpu  100 5 50 1000 20 0 3 1 0 0\ncpu0 1 2 3 4\n')).toEqual({ user: 1, nice: 0.05, system: 0.5, idle: 10, iowait: 0.2, irq: 0, softirq: 0.03, steal: 0.01 });
    const mem = parseMeminfo('MemTotal:       16000 kB\nMemAvailable:    4000 kB\nHugePages_Total:       0\n');
    expect([mem.get('MemTotal'), mem.get('MemAvailable'), mem.get('HugePages_Total')]).toEqual([16000 * 1024, 4000 * 1024, 0]);
    const net = parseNetDev(
      'Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo:  100  2 0 0 0 0 0 0  100  2 0 0 0 0 0 0\n  eth0: 5000 40 1 2 0 0 0 0 7000 50 3 4 0 0 0 0\n',
    );
    expect(net.get('eth0')).toEqual({ rxBytes: 5000, rxPackets: 40, rxErrors: 1, rxDrops: 2, txBytes: 7000, txPackets: 50, txErrors: 3, txDrops: 4 });
    expect([...net.keys()]).toEqual(['lo', 'eth0']);
  });

  it("reads Redis' INFO", () => {
    const info = parseInfo('# Server\r\nredis_version:7.0.15\r\n\r\n# Clients\r\nconnected_clients:3\r\n# Keyspace\r\ndb0:keys=12,expires=3,avg_ttl=0\r\n');
    expect(Object.fromEntries(info)).toEqual({ redis_version: '7.0.15', connected_clients: '3', db0: 'keys=12,expires=3,avg_ttl=0' });
  });

  it('keeps credentials out of labels', () => {
    expect(endpointOf('redis://user:pw@cache.internal/0', 6379)).toBe('cache.internal:6379');
    expect(endpointOf('postgres://u:p@db:6432/x', 5432)).toBe('db:6432');
    expect(targetLabel('https://u:p@example.com/health?x=1')).toBe('https://example.com/health?x=1');
  });

  it("reads a service's prom-client runtime metrics from its /metrics", () => {
    const text = [
      '# HELP headroom_process_resident_memory_bytes Resident memory size in bytes.',
      '# TYPE headroom_process_resident_memory_bytes gauge',
      'headroom_process_resident_memory_bytes{service="control"} 160350208',
      'headroom_nodejs_heap_size_used_bytes{service="control"} 3.2e7',
      'headroom_nodejs_active_resources{service="control",type="TCPWrap"} 3',
      'headroom_nodejs_active_resources_total{service="control"} 5',
      'headroom_ingest_accepted_total{tenant="a",kind="point"} 10',
      'headroom_nodejs_eventloop_lag_p99_seconds NaN',
    ].join('\n');
    expect(Object.fromEntries(readRuntimeSamples(text))).toEqual({ process_resident_memory_bytes: 160350208, nodejs_heap_size_used_bytes: 3.2e7, nodejs_active_resources_total: 5 });
  });
});
