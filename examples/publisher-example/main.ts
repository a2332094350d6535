/**
 * An internal service that records its own request latency through @headroom/publisher — no HTTP
 * hop to collectors, same validation, pseudonymisation and sealing (docs/publisher.md).
 *
 *   TENANT=label-x PORT=4090 npm run example:publisher
 *   curl -s localhost:4090/play?user=alice      # each request records api_latency_ms (+ a song_play event)
 *
 * Environment: TENANT (required), HEADROOM_KEK / HEADROOM_KEK_ID (default: the local stack's
 * secrets.json and kek-1), KAFKA_BROKERS (default 127.0.0.1:9092), PORT (default 4090).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { InvalidTelemetryError, TelemetryPublisher, type PointInput } from '@headroom/publisher';
import { createLogger } from '@headroom/runtime';

const logger = createLogger('publisher-example', process.env['LOG_LEVEL'] ?? 'info');

/** HEADROOM_KEK / HEADROOM_CONTROL_PUBLIC_KEY, or the local stack's (libs/testing localSecrets); production passes them. */
function secretFromEnv(variable: string, field: 'kek' | 'controlPublicKey'): string {
  const value = process.env[variable];
  if (value) return value;
  const dir = process.env['HEADROOM_LOCAL_DIR'] ?? join(process.env['XDG_CONFIG_HOME'] ?? join(homedir(), '.config'), 'headroom');
  return (JSON.parse(readFileSync(join(dir, 'secrets.json'), 'utf8')) as Record<typeof field, string>)[field];
}

async function main(): Promise<void> {
  const tenant = process.env['TENANT'];
  if (!tenant) throw new Error('TENANT is required (a tenant created on control, e.g. label-x)');
  const publisher = await TelemetryPublisher.connect({
    brokers: (process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(','),
    kekBase64: secretFromEnv('HEADROOM_KEK', 'kek'),
    controlPublicKeys: secretFromEnv('HEADROOM_CONTROL_PUBLIC_KEY', 'controlPublicKey'),
    kekId: process.env['HEADROOM_KEK_ID'] ?? 'kek-1',
    tenant,
    clientId: 'publisher-example',
    logger,
    source: 'publisher:example',
    lingerMs: 100, // latency samples are small: let up to 100 ms of requests share one record
    maxBufferedPoints: 50_000, // a broker outage holds at most this many samples, then requests wait
    onError: (err) => logger.warn({ err: err.message, points: err.points }, 'latency samples lost'),
  });
  logger.info({ tenant }, 'publishing request latency through @headroom/publisher');

  const server = createServer((req, res) => void handle(req, res));
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    const url = new URL(req.url ?? '/', 'http://localhost');
    const route = url.pathname === '/play' ? '/play' : 'other'; // bounded label values: one series per route
    res.statusCode = route === 'other' ? 404 : 200;
    res.end(route === 'other' ? 'not found\n' : 'playing\n');
    const point: PointInput = {
      name: 'api_latency_ms',
      labels: { route, status: String(res.statusCode), service: 'publisher-example' },
      value: Number(process.hrtime.bigint() - started) / 1e6,
      timestamp: Date.now(),
      unit: 'ms',
    };
    const user = url.searchParams.get('user');
    try {
      // ack 'buffered': the request does not wait for Kafka, only for room in the buffer (back-pressure).
      await publisher.record(
        [point],
        user && route === '/play' ? [{ type: 'song_play', timestamp: Date.now(), trackId: 'demo-track', userId: user, durationMs: 1000 }] : [],
        { ack: 'buffered' },
      );
    } catch (err) {
      // InvalidTelemetryError lists every problem with its path; nothing of the call was recorded.
      if (err instanceof InvalidTelemetryError) logger.error({ issues: err.issues }, 'latency sample refused');
      else logger.error({ err: (err as Error).message }, 'latency sample not recorded');
    }
  }
  const port = Number(process.env['PORT'] ?? 4090);
  server.listen(port, '127.0.0.1', () => logger.info({ port }, 'listening'));

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    server.close();
    await publisher.close(); // flushes every recorded sample to Kafka, then disconnects
    logger.info(publisher.stats(), 'stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
}

main().catch((err: unknown) => {
  logger.error({ err: err instanceof Error ? err.message : String(err) }, 'publisher-example failed to start');
  process.exit(1);
});
