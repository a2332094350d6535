import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, createWriteStream } from 'node:fs';
import { join, resolve } from 'node:path';
import { expectEventually } from './expect-eventually';

const ROOT = resolve(__dirname, '../../..');

/**
 * Runs one Headroom app as its own process, exactly as `npm start` does, with its JSON log written
 * to <logDir>/<name>.log (tmp/test-logs by default). `stop()` sends SIGTERM and returns the exit code, so a test can
 * check the shutdown was clean.
 */
export class ServiceProcess {
  private child: ChildProcess | undefined;
  /** Extra node flags, e.g. `--cpu-prof` (not allowed in NODE_OPTIONS). */
  readonly nodeArgs: string[] = [];
  private exit: Promise<number | null> | undefined;
  readonly logFile: string;

  constructor(
    readonly app: string,
    readonly port: number,
    private readonly env: Record<string, string>,
    readonly name = app,
    logDir = join(ROOT, 'tmp', 'test-logs'),
  ) {
    const dir = logDir;
    mkdirSync(dir, { recursive: true });
    this.logFile = join(dir, `${name}.log`);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(readyTimeoutMs = 60_000): Promise<void> {
    const log = createWriteStream(this.logFile, { flags: 'a' });
    this.child = spawn(process.execPath, [...this.nodeArgs, '-r', '@swc-node/register', join(ROOT, 'apps', this.app, 'src', 'main.ts')], {
      cwd: ROOT,
      env: { ...process.env, ...this.env, PORT: String(this.port), HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.pipe(log);
    this.child.stderr!.pipe(log);
    this.exit = new Promise((r) => this.child!.once('exit', (code) => r(code)));
    let exited = false;
    void this.exit.then(() => (exited = true));
    await expectEventually(
      async () => {
        if (exited) throw new Error(`${this.name} exited during start; see ${this.logFile}`);
        const res = await fetch(`${this.url}/readyz`);
        if (res.status !== 200) throw new Error(`${this.name} not ready: ${await res.text()}`);
      },
      { timeoutMs: readyTimeoutMs, intervalMs: 250 },
    ).catch((err) => {
      throw exited ? new Error(`${this.name} exited during start; see ${this.logFile}`) : err;
    });
  }

  /**
   * Sends `signal` (SIGKILL by default: a crash, no shutdown hook runs, nothing is flushed or
   * committed) and waits for the process to end. Resolves with its exit code, or null when the
   * signal ended it. `start()` may be called again afterwards (a restart).
   */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    if (!this.child || !this.exit) return null;
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exit;
  }

  async stop(timeoutMs = 20_000): Promise<number | null> {
    if (!this.child || !this.exit) return null;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), timeoutMs);
    const code = await this.exit;
    clearTimeout(timer);
    return code;
  }
}
