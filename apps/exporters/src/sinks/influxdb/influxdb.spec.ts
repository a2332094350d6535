import type { AggregateWindow } from '@headroom/contracts';
import { destination, influxdbSinkType, toPoint } from './influxdb.sink';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const w: AggregateWindow = { series: { name: 'song_plays', labels: { region: 'eu west', 'a=b': 'c,d' } }, seriesId: 's', windowStart: T0, windowMs: 10_000, count: 5, sum: 10.5, min: 1, max: 3.25, p50: 2, p95: 3, p99: 3.2 };

describe('InfluxDB line protocol', () => {
  it('writes one point per window: measurement = metric name, tags = labels (escaped), count as an integer, ms timestamp at the window end', () => {
    const line = toPoint(w).toLineProtocol({ convertTime: (t) => String(t) });
    expect(line).toBe(`song_plays,a\\=b=c\\,d,region=eu\\ west count=5i,max=3.25,min=1,p50=2,p95=3,p99=3.2,sum=10.5 ${T0 + 10_000}`);
  });

  it('puts each tenant in its own bucket, or its own org, by configuration', () => {
    const config = { ...influxdbSinkType.defaultConfig(), url: 'http://x' };
    expect(destination(config, 'acme')).toEqual({ org: 'headroom', bucket: 'headroom-acme' });
    expect(destination({ ...config, tenancy: 'org', prefix: 'org-' }, 'acme')).toEqual({ org: 'org-acme', bucket: 'headroom' });
  });
});

describe('InfluxDB config', () => {
  it('is off without a URL and lists every problem with its path', () => {
    expect(influxdbSinkType.fromEnv({})).toBeUndefined();
    const config = { ...influxdbSinkType.defaultConfig(), ...influxdbSinkType.fromEnv({ EXPORT_INFLUXDB_URL: 'nope', EXPORT_INFLUXDB_TENANCY: 'db', EXPORT_INFLUXDB_BATCH_SIZE: '0', EXPORT_INFLUXDB_GZIP_THRESHOLD: '-1' }) };
    expect(influxdbSinkType.validate(config).map((p) => p.path)).toEqual(['url', 'tenancy', 'batchSize', 'gzipThreshold']);
  });

  it('accepts a full configuration', () => {
    const config = { ...influxdbSinkType.defaultConfig(), ...influxdbSinkType.fromEnv({ EXPORT_INFLUXDB_URL: 'https://influx:8086', EXPORT_INFLUXDB_TOKEN: 't', EXPORT_INFLUXDB_TENANCY: 'org', EXPORT_INFLUXDB_BUCKET: 'metrics' }) };
    expect(influxdbSinkType.validate(config)).toEqual([]);
    expect(config).toMatchObject({ token: 't', tenancy: 'org', bucket: 'metrics', gzipThreshold: 1000 });
  });
});
