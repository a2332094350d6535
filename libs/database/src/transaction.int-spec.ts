import { randomBytes } from 'node:crypto';
import { Pool } from 'pg';
import { inTransaction, migrateSchema } from './transaction';

const pool = new Pool({ connectionString: process.env['DATABASE_URL'] ?? 'postgres://headroom:headroom@127.0.0.1:5432/headroom', max: 4 });
const schema = `it_db_${randomBytes(4).toString('hex')}`;
const ddl = `create schema if not exists ${schema}; create table if not exists ${schema}.t (id int primary key); create index if not exists t_id on ${schema}.t (id);`;

afterAll(async () => {
  await pool.query(`drop schema if exists ${schema} cascade`);
  await pool.query('delete from headroom_meta.migrations where name = $1', [schema]);
  await pool.end();
});

describe('database helpers on the real PostgreSQL', () => {
  it('migrates idempotently, even from replicas booting at once', async () => {
    await Promise.all([migrateSchema(pool, schema, ddl), migrateSchema(pool, schema, ddl), migrateSchema(pool, schema, ddl)]);
    await migrateSchema(pool, schema, ddl);
    const { rows } = await pool.query(`select count(*)::int as n from information_schema.tables where table_schema = $1`, [schema]);
    expect(rows[0].n).toBe(1);
  });

  it('skips DDL already applied, so a replica booting next to busy writers neither waits for them nor deadlocks', async () => {
    // A writer of the running replicas holds its row lock (and the table's ROW EXCLUSIVE) open.
    const writer = await pool.connect();
    try {
      await writer.query('begin');
      await writer.query(`insert into ${schema}.t values (100)`);
      // `create index if not exists` alone would wait for that writer (SHARE lock); the ledger skips it.
      const outcome = await Promise.race([migrateSchema(pool, schema, ddl), new Promise((r) => setTimeout(() => r('blocked'), 3_000))]);
      expect(outcome).toBe('current');
    } finally {
      await writer.query('rollback');
      writer.release();
    }
    // A changed DDL is applied once, then current.
    const next = `${ddl} create table if not exists ${schema}.u (id int primary key);`;
    expect(await migrateSchema(pool, schema, next)).toBe('applied');
    expect(await migrateSchema(pool, schema, next)).toBe('current');
    const { rows } = await pool.query(`select count(*)::int as n from information_schema.tables where table_schema = $1`, [schema]);
    expect(rows[0].n).toBe(2);
  });

  it('commits on success and rolls everything back on failure', async () => {
    await inTransaction(pool, (db) => db.query(`insert into ${schema}.t values (1)`));
    await expect(
      inTransaction(pool, async (db) => {
        await db.query(`insert into ${schema}.t values (2)`);
        await db.query(`insert into ${schema}.t values (1)`); // duplicate: fails
      }),
    ).rejects.toThrow(/duplicate key/);
    const { rows } = await pool.query(`select id from ${schema}.t order by id`);
    expect(rows.map((r) => r.id)).toEqual([1]);
  });
});
