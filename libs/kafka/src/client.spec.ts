import { inspect } from 'node:util';
import { describeKafkaTarget, kafkaClientConfig, kafkaSaslCredentials, kafkaSecurityOptions, kafkaTarget, type KafkaConnection, type KafkaLogger } from './client';

const PASSWORD = 'never-logged-0f9c';
const CA = '-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n';
const CERT = '-----BEGIN CERTIFICATE-----\nCLIENT\n-----END CERTIFICATE-----\n';
const KEY = '-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n';

function capturingLogger(): KafkaLogger & { lines: string[] } {
  const lines: string[] = [];
  const log = (obj: object, msg?: string) => void lines.push(`${msg ?? ''} ${JSON.stringify(obj)}`);
  return { lines, info: log, warn: log, error: log, debug: log };
}
const conn = (security: KafkaConnection['security']): KafkaConnection => ({ brokers: ['b1:9092', 'b2:9092'], clientId: 'spec', logger: capturingLogger(), ...(security ? { security } : {}) });

describe('kafkajs options from the connection settings', () => {
  it('PLAINTEXT (or no settings): neither ssl nor sasl, as before', () => {
    for (const c of [conn(undefined), conn({ protocol: 'PLAINTEXT' })]) {
      const cfg = kafkaClientConfig(c);
      expect(cfg.ssl).toBeUndefined();
      expect(cfg.sasl).toBeUndefined();
      expect(cfg).toMatchObject({ clientId: 'spec', brokers: ['b1:9092', 'b2:9092'], retry: { initialRetryTime: 200, retries: 8 } });
    }
  });

  it('SSL: the CA, client certificate and key as TLS options; verification on unless turned off', () => {
    expect(kafkaClientConfig(conn({ protocol: 'SSL' })).ssl).toEqual({ rejectUnauthorized: true });
    expect(kafkaClientConfig(conn({ protocol: 'SSL', tls: { ca: CA, cert: CERT, key: KEY, rejectUnauthorized: true } }))).toMatchObject({
      ssl: { ca: [CA], cert: CERT, key: KEY, rejectUnauthorized: true },
    });
    expect(kafkaClientConfig(conn({ protocol: 'SSL', tls: { rejectUnauthorized: false } })).ssl).toEqual({ rejectUnauthorized: false });
    expect(kafkaClientConfig(conn({ protocol: 'SSL' })).sasl).toBeUndefined();
  });

  it('SASL_PLAINTEXT: sasl without ssl; SASL_SSL: both', () => {
    const sasl = kafkaSaslCredentials('scram-sha-256', 'headroom', PASSWORD);
    const plain = kafkaClientConfig(conn({ protocol: 'SASL_PLAINTEXT', sasl }));
    expect(plain.ssl).toBeUndefined();
    expect(plain.sasl).toEqual({ mechanism: 'scram-sha-256', username: 'headroom', password: PASSWORD });

    const both = kafkaSecurityOptions({ protocol: 'SASL_SSL', sasl: kafkaSaslCredentials('plain', 'u', PASSWORD), tls: { ca: CA, rejectUnauthorized: true } });
    expect(both).toEqual({ ssl: { ca: [CA], rejectUnauthorized: true }, sasl: { mechanism: 'plain', username: 'u', password: PASSWORD } });
  });

  it('a SASL protocol without credentials is a programming error, said without a secret', () => {
    expect(() => kafkaSecurityOptions({ protocol: 'SASL_SSL' })).toThrow('Kafka security protocol SASL_SSL needs SASL credentials');
  });

  it('TLS settings are ignored by SASL_PLAINTEXT, SASL credentials by SSL (the protocol decides)', () => {
    const sasl = kafkaSaslCredentials('plain', 'u', PASSWORD);
    const tls = { ca: CA, rejectUnauthorized: true };
    expect(kafkaSecurityOptions({ protocol: 'SASL_PLAINTEXT', sasl, tls }).ssl).toBeUndefined();
    expect(kafkaSecurityOptions({ protocol: 'SSL', sasl, tls }).sasl).toBeUndefined();
  });

  it('accepts a bare broker list where a target is taken', () => {
    expect(kafkaTarget(['a:1'])).toEqual({ brokers: ['a:1'] });
    const target = { brokers: ['a:1'], security: { protocol: 'SSL' as const } };
    expect(kafkaTarget(target)).toBe(target);
  });
});

describe('the SASL password stays out of logs', () => {
  it('credentials serialise without it (JSON, util.inspect, spread)', () => {
    const sasl = kafkaSaslCredentials('plain', 'headroom', PASSWORD);
    expect(sasl.password).toBe(PASSWORD);
    const { password, ...rest } = sasl;
    expect(password).toBe(PASSWORD);
    expect(rest).toEqual({ mechanism: 'plain', username: 'headroom' });
    for (const s of [JSON.stringify(sasl), inspect(sasl), JSON.stringify({ ...sasl }), JSON.stringify({ security: { protocol: 'SASL_SSL', sasl } })]) {
      expect(s).not.toContain(PASSWORD);
    }
  });

  it('describeKafkaTarget names the protocol, mechanism and user only', () => {
    const target = { brokers: ['b1:9096'], security: { protocol: 'SASL_SSL' as const, sasl: kafkaSaslCredentials('scram-sha-512', 'headroom', PASSWORD) } };
    expect(describeKafkaTarget(target)).toBe('b1:9096 (SASL_SSL scram-sha-512 as headroom)');
    expect(describeKafkaTarget({ brokers: ['b1:9092'] })).toBe('b1:9092 (PLAINTEXT)');
  });
});
