/**
 * Process and port helpers for the infra command: run a command, start a detached daemon,
 * wait for a TCP port, stop a pid. Pure Node (child_process, net, fs).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

/** A failed infra step: says which step failed and which log to read. */
export class InfraError extends Error {
  constructor(
    readonly step: string,
    message: string,
    readonly logFile?: string,
  ) {
    super(message);
    this.name = 'InfraError';
  }
}

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly input?: string;
  /** Also stream the command's output to this file (appended). */
  readonly logFile?: string;
  readonly timeoutMs?: number;
}

/** Runs a command to completion and captures its output; never throws on a non-zero exit. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: opts.timeoutMs,
    });
    const log = opts.logFile ? fs.createWriteStream(opts.logFile, { flags: 'a' }) : undefined;
    log?.write(`\n$ ${cmd} ${args.join(' ')}\n`);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      log?.write(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      log?.write(chunk);
    });
    child.on('error', (err) => {
      log?.end();
      reject(err);
    });
    child.on('close', (code, signal) => {
      log?.end();
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** Like `run`, but a non-zero exit becomes an InfraError naming the step and the output's tail. */
export async function runOrFail(step: string, cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  let result: RunResult;
  try {
    result = await run(cmd, args, opts);
  } catch (err) {
    throw new InfraError(step, `could not run ${cmd}: ${(err as Error).message}`, opts.logFile);
  }
  if (result.code !== 0) {
    const tail = (result.stderr.trim() || result.stdout.trim()).split('\n').slice(-8).join('\n');
    throw new InfraError(step, `\`${cmd} ${args.join(' ')}\` exited with ${result.code}\n${tail}`, opts.logFile);
  }
  return result;
}

/** Whether an executable is on PATH (no shell involved). */
export function hasCommand(name: string): boolean {
  const dirs = (process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(':');
  return dirs.some((dir) => {
    try {
      fs.accessSync(path.join(dir, name), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Starts a long-running process detached from this one (own session, output to a log file). */
export function spawnDetached(
  cmd: string,
  args: readonly string[],
  opts: { cwd: string; logFile: string; env?: NodeJS.ProcessEnv },
): number {
  const out = fs.openSync(opts.logFile, 'a');
  try {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      // setsid + ignored stdin: survives the end of `npm run infra:up` and its terminal.
      detached: true,
      stdio: ['ignore', out, out],
    });
    if (child.pid === undefined) throw new Error(`could not start ${cmd}`);
    child.unref();
    return child.pid;
  } finally {
    fs.closeSync(out);
  }
}

/** True if something accepts TCP connections on host:port. */
export function isPortOpen(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (open: boolean): void => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits until host:port accepts connections. `alive` is polled too, so a daemon that dies
 * during start-up fails fast instead of after the whole timeout.
 */
export async function waitForPort(
  host: string,
  port: number,
  timeoutMs: number,
  alive: () => boolean = () => true,
): Promise<'open' | 'timeout' | 'died'> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await isPortOpen(host, port)) return 'open';
    if (!alive()) return 'died';
    await sleep(200);
  }
  return 'timeout';
}

export function isPidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A zombie (exited, not yet reaped) still answers signal 0.
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

/** The command line of a live process ('' if gone), to avoid signalling a recycled pid. */
export function pidCommandLine(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

/** SIGTERM, wait up to `graceMs`, then SIGKILL. Resolves to how the process ended. */
export async function stopPid(pid: number, graceMs: number): Promise<'not-running' | 'terminated' | 'killed'> {
  if (!isPidAlive(pid)) return 'not-running';
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isPidAlive(pid)) return 'terminated';
    await sleep(200);
  }
  process.kill(pid, 'SIGKILL');
  while (isPidAlive(pid)) await sleep(100);
  return 'killed';
}

/** apt-get install, running `apt-get update` first only when the plain install fails. */
export async function aptInstall(step: string, packages: readonly string[], logFile: string): Promise<void> {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = (): Promise<RunResult> => run('apt-get', ['install', '-y', '--no-install-recommends', ...packages], { env, logFile });
  if (!hasCommand('apt-get')) throw new InfraError(step, `${packages.join(' ')} missing and apt-get is not available: install it by hand`);
  if ((await install()).code === 0) return;
  await runOrFail(step, 'apt-get', ['update'], { env, logFile });
  const retry = await install();
  if (retry.code !== 0) throw new InfraError(step, `apt-get install ${packages.join(' ')} failed (exit ${retry.code})`, logFile);
}

export function elapsedSeconds(startedAt: number): string {
  return ((Date.now() - startedAt) / 1000).toFixed(1);
}
