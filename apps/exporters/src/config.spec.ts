import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { ConfigError, loadConfig } from '@headroom/config';
import { exportersEnvSchema } from './config';

const base = {
  HEADROOM_KEK: randomBytes(32).toString('base64'),
  HEADROOM_CONTROL_PUBLIC_KEY: generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
};

describe('exporters config: sinks', () => {
  it('enables no sink by default', () => {
    expect(loadConfig(exportersEnvSchema, base).sinks).toEqual([]);
  });

  it('enables each sink whose URL is set, with its tenant list', () => {
    const config = loadConfig(exportersEnvSchema, { ...base, EXPORT_REMOTE_WRITE_URL: 'http://vm:8428/api/v1/write', EXPORT_INFLUXDB_URL: 'http://influx:8086', EXPORT_INFLUXDB_TENANTS: 'acme, globex' });
    expect(config.sinks.map((s) => [s.type, s.tenants])).toEqual([['remote_write', undefined], ['influxdb', ['acme', 'globex']]]);
  });

  it('reports every problem of every sink at once, with the rest of the environment', () => {
    let error: ConfigError | undefined;
    try {
      loadConfig(exportersEnvSchema, { ...base, PORT: 'x', EXPORT_REMOTE_WRITE_URL: 'nope', EXPORT_REMOTE_WRITE_MODE: 'both', EXPORT_INFLUXDB_URL: 'http://i', EXPORT_INFLUXDB_BATCH_SIZE: '0' });
    } catch (err) {
      error = err as ConfigError;
    }
    expect(error?.problems.map((p) => p.key)).toEqual([
      'PORT',
      'sinks.EXPORT_REMOTE_WRITE_* (remote_write.url)',
      'sinks.EXPORT_REMOTE_WRITE_* (remote_write.mode)',
      'sinks.EXPORT_INFLUXDB_* (influxdb.batchSize)',
    ]);
  });
});
