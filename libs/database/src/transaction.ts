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

/**
 * Applies a service's idempotent schema DDL (`create ... if not exists`). Replicas booting together
 * serialise on a transaction-scoped advisory lock named after the schema, so two never race the DDL.
 */
export async function migrateSchema(pool: Pool, schema: string, ddl: string): Promise<void> {
  await inTransaction(pool, async (db) => {
    await db.query('select pg_advisory_xact_lock(hashtext($1))', [`headroom:migrate:${schema}`]);
    await db.query(ddl);
  });
}
