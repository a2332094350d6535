import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../../..');

export type SearchFlavour = 'elasticsearch' | 'opensearch';

/**
 * The real search servers the Elasticsearch sink is proven against, run from Maven Central jars
 * (codelibs' embeddable runners) on the machine's JDK. `npm run infra:up` fetches the jars once
 * (tools/infra/search.ts, poms in tools/search/); tests start their own server with
 * `startSearchServer` and stop it.
 */
export const SEARCH_SERVERS: Record<SearchFlavour, { readonly version: string; readonly runnerVersion: string; readonly mainClass: string }> = {
  elasticsearch: {
    version: '7.10.2',
    runnerVersion: '7.10.2.0',
    mainClass: 'org.codelibs.elasticsearch.runner.ElasticsearchClusterRunner',
  },
  opensearch: {
    version: '2.19.1',
    runnerVersion: '2.19.1.0',
    mainClass: 'org.codelibs.opensearch.runner.OpenSearchRunner',
  },
};

/** Where `infra:up` leaves a flavour's jars: the same cache convention as the Kafka jars. */
export function searchLibsDir(flavour: SearchFlavour, env: NodeJS.ProcessEnv = process.env): string {
  const cacheHome = env['XDG_CACHE_HOME'] || join(homedir(), '.cache');
  const cacheDir = env['HEADROOM_CACHE_DIR'] || join(cacheHome, 'headroom');
  return join(cacheDir, `${flavour}-${SEARCH_SERVERS[flavour].runnerVersion}`, 'libs');
}

export function searchLibsReady(flavour: SearchFlavour, env: NodeJS.ProcessEnv = process.env): boolean {
  return existsSync(join(searchLibsDir(flavour, env), '.complete'));
}

export interface SearchServer {
  readonly flavour: SearchFlavour;
  readonly version: string;
  readonly url: string;
  readonly port: number;
  readonly logFile: string;
  /** Milliseconds from spawn to a yellow cluster. */
  readonly readyMs: number;
  /** SIGTERM (the runner closes its node), SIGKILL after a grace period; deletes the data dir. */
  stop(): Promise<void>;
}

export interface SearchServerOptions {
  readonly heapMb?: number;
  readonly readyTimeoutMs?: number;
  readonly logDir?: string;
}

// The runners refuse HTTP ports from 9300 on (their transport range), and Kafka's controller sits on 9093.
const FIRST_PORT = 9200;
const LAST_PORT = 9299;

function portFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = net.createServer();
    server.once('error', () => done(false));
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => server.close(() => done(true)));
  });
}

async function freePort(): Promise<number> {
  // A random start spreads concurrent callers; the runner moves on by itself if it loses a race.
  const span = LAST_PORT - FIRST_PORT;
  const offset = Math.floor(Math.random() * span);
  for (let i = 0; i < span; i++) {
    const port = FIRST_PORT + 1 + ((offset + i) % span);
    if (await portFree(port)) return port;
  }
  throw new Error(`no free loopback port in ${FIRST_PORT + 1}-${LAST_PORT} for a search server`);
}

const HTTP_BOUND = /AbstractHttpServerTransport\]\s+publish_address \{127\.0\.0\.1:(\d+)\}/;

async function waitForYellow(url: string, deadline: number, exited: () => boolean, logFile: string): Promise<void> {
  for (;;) {
    if (exited()) throw new Error(`the search server exited during start-up; see ${logFile}`);
    try {
      const res = await fetch(`${url}/_cluster/health?wait_for_status=yellow&timeout=1s`);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`the search server at ${url} was not ready in time; see ${logFile}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Starts a one-node Elasticsearch 7.10.2 or OpenSearch 2.19.1 on a free loopback port (≤ 9299) with
 * a fresh temporary data dir. Needs the jars from `npm run infra:up`.
 */
export async function startSearchServer(flavour: SearchFlavour, opts: SearchServerOptions = {}): Promise<SearchServer> {
  const libs = searchLibsDir(flavour);
  if (!existsSync(join(libs, '.complete'))) {
    throw new Error(`${flavour} jars are not in ${libs}: run \`npm run infra:up\` (it fetches them from Maven Central once)`);
  }
  const spec = SEARCH_SERVERS[flavour];
  const logDir = opts.logDir ?? join(ROOT, 'tmp', 'test-logs');
  mkdirSync(logDir, { recursive: true });
  const basePath = mkdtempSync(join(tmpdir(), `headroom-${flavour}-`));
  const wanted = await freePort();
  const logFile = join(logDir, `${flavour}-${wanted}.log`);
  const heap = opts.heapMb ?? 512;
  const started = Date.now();
  const child: ChildProcess = spawn(
    'java',
    [
      `-Xms${heap}m`,
      `-Xmx${heap}m`,
      '-XX:+UseG1GC',
      // C1 only: start-up is mostly class loading and cold code; a test's few requests never need C2.
      '-XX:TieredStopAtLevel=1',
      '-Djava.awt.headless=true',
      '-cp',
      `${libs}/*`,
      spec.mainClass,
      '-basePath',
      basePath,
      '-numOfNode',
      '1',
      // The runner gives node N the first free port from base + N.
      '-baseHttpPort',
      String(wanted - 1),
      '-clusterName',
      `headroom-test-${wanted}`,
    ],
    { cwd: basePath, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const log = createWriteStream(logFile, { flags: 'w' });
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  // The port the node really bound (the runner skips a port that another process took meanwhile).
  let boundPort: number | undefined;
  let head = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    if (boundPort !== undefined) return;
    head = (head + chunk.toString()).slice(-8192);
    const match = HTTP_BOUND.exec(head);
    if (match) boundPort = Number(match[1]);
  });
  const exit = new Promise<void>((r) => child.once('exit', () => r()));
  let exited = false;
  void exit.then(() => (exited = true));

  const stop = async (): Promise<void> => {
    if (!exited) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exit;
      clearTimeout(killer);
    }
    log.end();
    rmSync(basePath, { recursive: true, force: true });
  };

  try {
    const deadline = started + (opts.readyTimeoutMs ?? 120_000);
    while (boundPort === undefined) {
      if (exited) throw new Error(`${flavour} exited during start-up; see ${logFile}`);
      if (Date.now() > deadline) throw new Error(`${flavour} did not bind its HTTP port in time; see ${logFile}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const port = boundPort;
    const url = `http://127.0.0.1:${port}`;
    await waitForYellow(url, deadline, () => exited, logFile);
    return { flavour, version: spec.version, url, port, logFile, readyMs: Date.now() - started, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
