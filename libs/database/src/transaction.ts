import { createHash } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';

/** Runs `work` in one transaction: committed if it resolves, rolled back if it throws. */
export async function inTransaction<T>(pool: Pool, work: (db: PoolClient) => Promise<T>): Promise<T> {
  const db = await pool.connect();
  try {
    await db.query('begin');
    const result = await work(db);
    await db.query('commit');
    return result;
  } catch (err) {
    await db.query('rollback').catch(() => undefined);
    throw err;
  } finally {
    db.release();
  }
}

const LEDGER = `
create schema if not exists headroom_meta;
create table if not exists headroom_meta.migrations (
  name text not null,
  digest text not null,
  applied_at timestamptz not null default now(),
  primary key (name, digest)
);`;

/** PostgreSQL codes a migration retries on: deadlock_detected, lock_not_available. */
const RETRYABLE = new Set(['40P01', '55P03']);

/**
 * Applies a service's idempotent schema DDL (`create ... if not exists`) once per DDL text.
 *
 * - A ledger (`headroom_meta.migrations`, keyed by name and the DDL's SHA-256) records what was
 *   applied, so a replica booting next to running ones skips the DDL: `create index if not exists`
 *   still takes a SHARE lock on its table, which waits for (and blocks) the writers of the replicas
 *   already running, and deadlocks with a writer holding the next table.
 * - Replicas booting together serialise on one transaction-scoped advisory lock and re-check the
 *   ledger under it, so two never race the DDL.
 * - A migration chosen as a deadlock victim (or hitting its lock timeout) is retried with backoff
 *   instead of failing the service's start.
 */
export async function migrateSchema(pool: Pool, name: string, ddl: string, opts: { attempts?: number; lockTimeoutMs?: number } = {}): Promise<'applied' | 'current'> {
  const digest = createHash('sha256').update(ddl).digest('hex');
  if (await recorded(pool, name, digest)) return 'current';
  const attempts = opts.attempts ?? 8;
  for (let attempt = 1; ; attempt++) {
    try {
      return await inTransaction(pool, async (db) => {
        await db.query('select pg_advisory_xact_lock(hashtext($1))', ['headroom:migrate']);
        await db.query(`set local lock_timeout = ${Math.max(1, Math.floor(opts.lockTimeoutMs ?? 10_000))}`);
        await db.query(LEDGER);
        const { rowCount } = await db.query('select 1 from headroom_meta.migrations where name = $1 and digest = $2', [name, digest]);
        if (rowCount) return 'current' as const;
        await db.query(ddl);
        await db.query('insert into headroom_meta.migrations (name, digest) values ($1, $2)', [name, digest]);
        return 'applied' as const;
      });
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (attempt >= attempts || !code || !RETRYABLE.has(code)) throw err;
      await new Promise((r) => setTimeout(r, Math.min(2_000, 50 * 2 ** attempt) * (0.5 + Math.random() / 2)));
    }
  }
}

async function recorded(pool: Pool, name: string, digest: string): Promise<boolean> {
  try {
    const { rowCount } = await pool.query('select 1 from headroom_meta.migrations where name = $1 and digest = $2', [name, digest]);
    return (rowCount ?? 0) > 0;
  } catch (err) {
    // 42P01 undefined_table / 3F000 invalid_schema_name: nothing was ever recorded here.
    if (['42P01', '3F000'].includes((err as { code?: string }).code ?? '')) return false;
    throw err;
  }
}
