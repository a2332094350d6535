/**
 * Candidate Kafka clients installed on demand into `tmp/kafka-clients/<name>/`, each in its own
 * folder with its own package.json: they never become project dependencies, so CI does not pay
 * for them (the Confluent client builds librdkafka from source here, for minutes).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

export interface Candidate {
  /** Folder name under the cache and key in the bench's JSON. */
  readonly name: string;
  readonly pkg: string;
  /** Exact version: what was measured is what gets installed. */
  readonly version: string;
  /** Extra environment for `npm install` (build switches). */
  readonly env?: Readonly<Record<string, string>>;
}

export interface Installed {
  readonly version: string;
  /** Wall-clock seconds of `npm install` into an empty folder, measured when it ran. */
  readonly install_s: number;
  /** true: installed by an earlier run (install_s is that run's); BENCH_REINSTALL=1 measures it again. */
  readonly cached: boolean;
  readonly installedAt: string;
  /** Loads the package from its cache folder. */
  load<T>(): T;
}

interface InstallRecord {
  pkg: string;
  version: string;
  install_s: number;
  installedAt: string;
}

export function installCandidate(cacheRoot: string, c: Candidate, reinstall: boolean): Installed {
  const dir = join(cacheRoot, c.name);
  const recordFile = join(dir, 'install.json');
  const load = <T>(): T => createRequire(join(dir, 'package.json'))(c.pkg) as T;
  if (!reinstall && existsSync(recordFile)) {
    const rec = JSON.parse(readFileSync(recordFile, 'utf8')) as InstallRecord;
    if (rec.pkg === c.pkg && rec.version === c.version) return { version: rec.version, install_s: rec.install_s, cached: true, installedAt: rec.installedAt, load };
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ name: `bench-${c.name}`, private: true, dependencies: { [c.pkg]: c.version } }, null, 2)}\n`);
  process.stderr.write(`installing ${c.pkg}@${c.version} into ${dir}${c.env ? ` (${Object.entries(c.env).map(([k, v]) => `${k}=${v}`).join(' ')})` : ''}\n`);
  const t0 = process.hrtime.bigint();
  const res = spawnSync('npm', ['install', '--prefix', dir, '--no-audit', '--no-fund', '--save-exact', '--loglevel=error'], {
    cwd: dir,
    env: { ...process.env, ...c.env },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const install_s = Math.round((Number(process.hrtime.bigint() - t0) / 1e9) * 10) / 10;
  if (res.status !== 0) throw new Error(`npm install ${c.pkg}@${c.version} failed (${res.status}) after ${install_s} s: ${(res.stderr || res.stdout).slice(-2000)}`);
  const rec: InstallRecord = { pkg: c.pkg, version: c.version, install_s, installedAt: new Date().toISOString() };
  writeFileSync(recordFile, `${JSON.stringify(rec, null, 2)}\n`);
  process.stderr.write(`installed ${c.pkg}@${c.version} in ${install_s} s\n`);
  return { ...rec, cached: false, load };
}
