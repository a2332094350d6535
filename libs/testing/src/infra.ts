/** Where the real servers are: the same defaults as `npm run infra:up`, overridable by env. */
export function testInfra(): { brokers: string[]; databaseUrl: string; redisUrl: string } {
  return {
    brokers: (process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(','),
    databaseUrl: process.env['DATABASE_URL'] ?? 'postgres://headroom:headroom@127.0.0.1:5432/headroom',
    redisUrl: process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379',
  };
}

export function silentLogger() {
  const noop = () => undefined;
  return { info: noop, warn: noop, error: noop, debug: noop };
}
