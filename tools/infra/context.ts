/**
 * Where the infra command keeps things, and what it remembers between runs (tmp/infra/state.json):
 * only components recorded there are stopped by `infra:down`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface KafkaState {
  readonly pid: number;
  readonly clusterId: string;
  readonly startedAt: string;
}

export interface PostgresState {
  readonly version: string;
  readonly cluster: string;
  readonly startedAt: string;
}

export interface RedisState {
  readonly port: number;
  readonly startedAt: string;
}

export interface InfraState {
  kafka?: KafkaState;
  postgres?: PostgresState;
  redis?: RedisState;
}

export interface InfraContext {
  readonly root: string;
  readonly logDir: string;
  readonly dataDir: string;
  readonly cacheDir: string;
  readonly stateFile: string;
  readonly env: NodeJS.ProcessEnv;
  log(line: string): void;
}

export function createContext(env: NodeJS.ProcessEnv = process.env): InfraContext {
  const root = path.resolve(__dirname, '..', '..');
  const infraDir = path.join(root, 'tmp', 'infra');
  const cacheHome = env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return {
    root,
    logDir: path.join(infraDir, 'logs'),
    dataDir: path.join(infraDir, 'data'),
    cacheDir: env.HEADROOM_CACHE_DIR || path.join(cacheHome, 'headroom'),
    stateFile: path.join(infraDir, 'state.json'),
    env,
    log: (line) => process.stdout.write(`${line}\n`),
  };
}

export function ensureDirs(ctx: InfraContext): void {
  fs.mkdirSync(ctx.logDir, { recursive: true });
  fs.mkdirSync(ctx.dataDir, { recursive: true });
}

export function readState(ctx: InfraContext): InfraState {
  try {
    return JSON.parse(fs.readFileSync(ctx.stateFile, 'utf8')) as InfraState;
  } catch {
    return {};
  }
}

/** Read-modify-write, so each component records itself as soon as it has started. */
export function updateState(ctx: InfraContext, change: (state: InfraState) => void): void {
  const state = readState(ctx);
  change(state);
  fs.mkdirSync(path.dirname(ctx.stateFile), { recursive: true });
  const tmp = `${ctx.stateFile}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
  fs.renameSync(tmp, ctx.stateFile);
}

/** Shows a URL without its password. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}
