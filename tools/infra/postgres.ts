/**
 * PostgreSQL from Debian's package, started by hand (no systemd): the `headroom` role and database
 * on 127.0.0.1:5432. With DATABASE_URL set, that server is used and only checked.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client } from 'pg';
import { InfraContext, readState, redact, updateState } from './context';
import { InfraError, aptInstall, hasCommand, isPortOpen, runOrFail, waitForPort } from './process';

export const DEFAULT_DATABASE_URL = 'postgres://headroom:headroom@127.0.0.1:5432/headroom';
const HOST = '127.0.0.1';
const PORT = 5432;
const CLUSTER = 'main';
const STEP = 'postgres';

/** Idempotent: creates the role and database if missing, and (re)sets the role's password and rights. */
const ENSURE_SQL = `
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'headroom') THEN
    CREATE ROLE headroom LOGIN CREATEDB PASSWORD 'headroom';
  ELSE
    ALTER ROLE headroom LOGIN CREATEDB PASSWORD 'headroom';
  END IF;
END $$;
SELECT 'CREATE DATABASE headroom OWNER headroom' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'headroom') \\gexec
`;

/** Runs `select 1`; resolves to the error message, or undefined when the server answered. */
export async function checkDatabase(url: string, timeoutMs = 5_000): Promise<string | undefined> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  try {
    await client.connect();
    await client.query('select 1');
    return undefined;
  } catch (err) {
    return (err as Error).message;
  } finally {
    await client.end().catch(() => undefined);
  }
}

function installedVersions(): string[] {
  try {
    return fs
      .readdirSync('/etc/postgresql')
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
  } catch {
    return [];
  }
}

function logFileOf(version: string): string {
  return `/var/log/postgresql/postgresql-${version}-${CLUSTER}.log`;
}

/** Keeps every infra log reachable from tmp/infra/logs, although PostgreSQL writes under /var/log. */
function linkLog(ctx: InfraContext, version: string): string {
  const link = path.join(ctx.logDir, 'postgresql.log');
  try {
    fs.rmSync(link, { force: true });
    fs.symlinkSync(logFileOf(version), link);
  } catch {
    // Only a convenience: the real path is printed too.
  }
  return link;
}

/** psql as the postgres superuser over the local socket (peer authentication). */
async function psqlAsPostgres(ctx: InfraContext, sql: string): Promise<void> {
  const psql = ['psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', 'postgres'];
  const [cmd, args] = hasCommand('runuser') ? ['runuser', ['-u', 'postgres', '--', ...psql]] : ['su', ['postgres', '-c', psql.join(' ')]];
  // cwd: the postgres user cannot enter /root, and psql warns about it.
  await runOrFail(`${STEP}: create role and database`, cmd, args, { input: sql, cwd: '/tmp', logFile: path.join(ctx.logDir, 'infra.log') });
}

async function ensurePackage(ctx: InfraContext): Promise<string> {
  let versions = installedVersions();
  if (versions.length === 0 || !hasCommand('pg_ctlcluster')) {
    ctx.log('postgres: installing the postgresql package (apt-get)…');
    await aptInstall(`${STEP}: install`, ['postgresql'], path.join(ctx.logDir, 'apt.log'));
    versions = installedVersions();
  }
  const version = versions[0];
  if (!version) throw new InfraError(`${STEP}: install`, 'postgresql is installed but /etc/postgresql holds no cluster version', path.join(ctx.logDir, 'apt.log'));
  if (!fs.existsSync(`/etc/postgresql/${version}/${CLUSTER}/postgresql.conf`)) {
    await runOrFail(`${STEP}: create cluster`, 'pg_createcluster', [version, CLUSTER, '--port', String(PORT)], { logFile: path.join(ctx.logDir, 'infra.log') });
  }
  return version;
}

export async function upPostgres(ctx: InfraContext): Promise<string> {
  const external = ctx.env.DATABASE_URL;
  if (external) {
    const error = await checkDatabase(external);
    if (error) throw new InfraError(STEP, `DATABASE_URL=${redact(external)} does not answer select 1: ${error}`);
    ctx.log(`postgres: using DATABASE_URL ${redact(external)} (answers select 1)`);
    return external;
  }

  if (await isPortOpen(HOST, PORT)) {
    // Running (started by us or someone else): make sure our role and database are there.
    if ((await checkDatabase(DEFAULT_DATABASE_URL)) !== undefined) {
      if (installedVersions().length === 0) {
        throw new InfraError(STEP, `something listens on ${HOST}:${PORT} but the headroom role/database is unusable and it is not a Debian cluster: set DATABASE_URL`);
      }
      await psqlAsPostgres(ctx, ENSURE_SQL);
      ctx.log(`postgres: already running on ${HOST}:${PORT}; created role/database headroom`);
    } else {
      ctx.log(`postgres: already running on ${HOST}:${PORT}`);
    }
    return DEFAULT_DATABASE_URL;
  }

  const version = await ensurePackage(ctx);
  const log = logFileOf(version);
  const started = Date.now();
  await runOrFail(`${STEP}: start`, 'pg_ctlcluster', ['--skip-systemctl-redirect', version, CLUSTER, 'start'], { logFile: path.join(ctx.logDir, 'infra.log') }).catch(
    (err: InfraError) => {
      throw new InfraError(err.step, err.message, log);
    },
  );
  updateState(ctx, (s) => {
    s.postgres = { version, cluster: CLUSTER, startedAt: new Date().toISOString() };
  });
  if ((await waitForPort(HOST, PORT, 30_000)) !== 'open') {
    throw new InfraError(`${STEP}: start`, `cluster ${version}/${CLUSTER} started but nothing listens on ${HOST}:${PORT} (check its port in /etc/postgresql/${version}/${CLUSTER}/postgresql.conf)`, log);
  }
  await psqlAsPostgres(ctx, ENSURE_SQL);
  const error = await checkDatabase(DEFAULT_DATABASE_URL);
  if (error) throw new InfraError(`${STEP}: check`, `headroom cannot connect: ${error}`, log);
  ctx.log(`postgres: started ${version}/${CLUSTER} on ${HOST}:${PORT} in ${((Date.now() - started) / 1000).toFixed(1)}s (log ${linkLog(ctx, version)} -> ${log})`);
  return DEFAULT_DATABASE_URL;
}

export async function downPostgres(ctx: InfraContext): Promise<void> {
  const state = readState(ctx).postgres;
  if (!state) {
    ctx.log('postgres: not started by infra:up, left alone');
    return;
  }
  if (await isPortOpen(HOST, PORT)) {
    await runOrFail(`${STEP}: stop`, 'pg_ctlcluster', ['--skip-systemctl-redirect', state.version, state.cluster, 'stop'], {
      logFile: path.join(ctx.logDir, 'infra.log'),
    });
    ctx.log(`postgres: stopped ${state.version}/${state.cluster}`);
  } else {
    ctx.log('postgres: was not running');
  }
  updateState(ctx, (s) => {
    delete s.postgres;
  });
}

export async function statusPostgres(ctx: InfraContext): Promise<string> {
  const external = ctx.env.DATABASE_URL;
  if (external) {
    const error = await checkDatabase(external, 2_000);
    return `postgres: ${error ? `down (${error})` : 'up'} at ${redact(external)} (DATABASE_URL)`;
  }
  const up = await isPortOpen(HOST, PORT);
  const managed = readState(ctx).postgres ? ', started by infra:up' : '';
  return `postgres: ${up ? 'up' : 'down'} on ${HOST}:${PORT}${managed}`;
}
