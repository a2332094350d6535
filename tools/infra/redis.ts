/**
 * Redis from Debian's package, started by hand on 127.0.0.1:6379 without persistence
 * (a cache and rate-limit store for tests). With REDIS_URL set, that server is only PINGed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import Redis from 'ioredis';
import { InfraContext, readState, redact, updateState } from './context';
import { InfraError, aptInstall, hasCommand, isPortOpen, run, runOrFail, waitForPort } from './process';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
const HOST = '127.0.0.1';
const PORT = 6379;
const STEP = 'redis';

/** PINGs the server; resolves to the error message, or undefined when it answered PONG. */
export async function pingRedis(url: string, timeoutMs = 3_000): Promise<string | undefined> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    // One attempt: a down server is an answer here, not something to wait out.
    retryStrategy: () => null,
  });
  // The connection error (e.g. ECONNREFUSED) arrives as an event; connect() only says "Connection is closed".
  let lastError: string | undefined;
  client.on('error', (err: Error) => (lastError = err.message));
  try {
    await client.connect();
    const reply = await client.ping();
    return reply === 'PONG' ? undefined : `unexpected reply ${reply}`;
  } catch (err) {
    return lastError ?? (err as Error).message;
  } finally {
    client.disconnect();
  }
}

export async function upRedis(ctx: InfraContext): Promise<string> {
  const external = ctx.env.REDIS_URL;
  if (external) {
    const error = await pingRedis(external);
    if (error) throw new InfraError(STEP, `REDIS_URL=${redact(external)} does not answer PING: ${error}`);
    ctx.log(`redis: using REDIS_URL ${redact(external)} (answers PING)`);
    return external;
  }
  if (await isPortOpen(HOST, PORT)) {
    const error = await pingRedis(DEFAULT_REDIS_URL);
    if (error) throw new InfraError(STEP, `something listens on ${HOST}:${PORT} but does not answer PING: ${error}`);
    ctx.log(`redis: already running on ${HOST}:${PORT}`);
    return DEFAULT_REDIS_URL;
  }

  const logFile = path.join(ctx.logDir, 'redis.log');
  if (!hasCommand('redis-server') || !hasCommand('redis-cli')) {
    ctx.log('redis: installing the redis-server package (apt-get)…');
    await aptInstall(`${STEP}: install`, ['redis-server'], path.join(ctx.logDir, 'apt.log'));
    // Without a policy-rc.d, the package's init script starts its own server: adopt it.
    if (await isPortOpen(HOST, PORT)) {
      updateState(ctx, (s) => {
        s.redis = { port: PORT, startedAt: new Date().toISOString() };
      });
      ctx.log(`redis: started by the package's init script on ${HOST}:${PORT} (log /var/log/redis/redis-server.log)`);
      return DEFAULT_REDIS_URL;
    }
  }

  const dir = path.join(ctx.dataDir, 'redis');
  fs.mkdirSync(dir, { recursive: true });
  const started = Date.now();
  // --daemonize: redis forks and detaches itself; the parent returns once the child is set up.
  await runOrFail(
    `${STEP}: start`,
    'redis-server',
    [
      '--daemonize', 'yes',
      '--bind', HOST,
      '--port', String(PORT),
      '--save', '',
      '--appendonly', 'no',
      '--dir', dir,
      '--pidfile', path.join(dir, 'redis.pid'),
      '--logfile', logFile,
    ],
    { logFile },
  );
  updateState(ctx, (s) => {
    s.redis = { port: PORT, startedAt: new Date().toISOString() };
  });
  if ((await waitForPort(HOST, PORT, 10_000)) !== 'open') throw new InfraError(`${STEP}: start`, `redis-server did not listen on ${HOST}:${PORT}`, logFile);
  const error = await pingRedis(DEFAULT_REDIS_URL);
  if (error) throw new InfraError(`${STEP}: check`, `redis does not answer PING: ${error}`, logFile);
  ctx.log(`redis: started on ${HOST}:${PORT} in ${((Date.now() - started) / 1000).toFixed(1)}s (log ${logFile})`);
  return DEFAULT_REDIS_URL;
}

export async function downRedis(ctx: InfraContext): Promise<void> {
  if (!readState(ctx).redis) {
    ctx.log('redis: not started by infra:up, left alone');
    return;
  }
  if (await isPortOpen(HOST, PORT)) {
    const result = await run('redis-cli', ['-h', HOST, '-p', String(PORT), 'shutdown', 'nosave']);
    // redis-cli reports the dropped connection of a successful shutdown as an error: check the port.
    if (!(await waitForClosed(HOST, PORT, 10_000))) {
      throw new InfraError(`${STEP}: stop`, `redis-cli shutdown nosave did not stop the server: ${result.stderr.trim() || result.stdout.trim()}`, path.join(ctx.logDir, 'redis.log'));
    }
    ctx.log('redis: stopped');
  } else {
    ctx.log('redis: was not running');
  }
  updateState(ctx, (s) => {
    delete s.redis;
  });
}

async function waitForClosed(host: string, port: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!(await isPortOpen(host, port))) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

export async function statusRedis(ctx: InfraContext): Promise<string> {
  const external = ctx.env.REDIS_URL;
  if (external) {
    const error = await pingRedis(external, 2_000);
    return `redis: ${error ? `down (${error})` : 'up'} at ${redact(external)} (REDIS_URL)`;
  }
  const up = await isPortOpen(HOST, PORT);
  const managed = readState(ctx).redis ? ', started by infra:up' : '';
  return `redis: ${up ? 'up' : 'down'} on ${HOST}:${PORT}${managed}`;
}
