/** How tools/infra picks its Kafka target from the environment (no broker involved). */
import type { InfraContext } from './context';
import { externalKafka, kafkaTargetOf } from './kafka';
import { InfraError } from './process';

const ctx = (env: Record<string, string>): InfraContext => ({ root: '/', logDir: '/', dataDir: '/', cacheDir: '/', stateFile: '/state.json', env, log: () => undefined });
const PASSWORD = 'infra-spec-password-31f';

describe('the Kafka target of tools/infra', () => {
  it('without KAFKA_BROKERS: the local PLAINTEXT broker, as before', () => {
    expect(externalKafka(ctx({}))).toBeUndefined();
    expect(kafkaTargetOf(ctx({}), '127.0.0.1:9092')).toEqual({ brokers: ['127.0.0.1:9092'] });
  });

  it('with KAFKA_BROKERS: that cluster with the TLS/SASL settings the services read', () => {
    const target = kafkaTargetOf(
      ctx({ KAFKA_BROKERS: 'b1:9096,b2:9096', KAFKA_SECURITY_PROTOCOL: 'SASL_PLAINTEXT', KAFKA_SASL_MECHANISM: 'scram-sha-256', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: PASSWORD }),
      'ignored:1',
    );
    expect(target).toMatchObject({ brokers: ['b1:9096', 'b2:9096'], security: { protocol: 'SASL_PLAINTEXT', sasl: { mechanism: 'scram-sha-256', username: 'u' } } });
    expect(JSON.stringify(target)).not.toContain(PASSWORD);
  });

  it('refuses bad settings before connecting: every problem with its key, never the password', () => {
    let error: unknown;
    try {
      externalKafka(ctx({ KAFKA_BROKERS: 'b1:9096', KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SASL_PASSWORD: PASSWORD, KAFKA_TLS_CERT_FILE: '/nonexistent.crt' }));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InfraError);
    const message = (error as Error).message;
    expect(message).toMatch(/KAFKA_SASL_MECHANISM: is required/);
    expect(message).toMatch(/KAFKA_SASL_USERNAME: is required/);
    expect(message).toMatch(/KAFKA_TLS_CERT_FILE: \/nonexistent\.crt does not exist/);
    expect(message).toMatch(/KAFKA_TLS_CERT_FILE: needs KAFKA_TLS_KEY_FILE/);
    expect(message).not.toContain(PASSWORD);
  });

  it('a secured protocol without KAFKA_BROKERS is refused: the local broker is PLAINTEXT', () => {
    expect(() => externalKafka(ctx({ KAFKA_SECURITY_PROTOCOL: 'SSL' }))).toThrow(/KAFKA_SECURITY_PROTOCOL=SSL needs KAFKA_BROKERS/);
  });
});
