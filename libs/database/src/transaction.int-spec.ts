import { randomBytes } from 'node:crypto';
import { Pool } from 'pg';
import { inTransaction, migrateSchema } from './transaction';

const pool = new Pool({ connectionString: process.env['DATABASE_URL'] ?? 'postgres://headroom:headroom@127.0.0.1:5432/headroom', max: 4 });
const schema = `it_db_${randomBytes(4).toString('hex')}`;
const ddl = `create schema if not exists ${schema}; create table if not exists ${schema}.t (id int primary key);`;

afterAll(async () => {
  await pool.query(`drop schema if exists ${schema} cascade`);
  await pool.end();
});

describe('database helpers on the real PostgreSQL', () => {
  it('migrates idempotently, even from replicas booting at once', async () => {
    await Promise.all([migrateSchema(pool, schema, ddl), migrateSchema(pool, schema, ddl), migrateSchema(pool, schema, ddl)]);
    await migrateSchema(pool, schema, ddl);
    const { rows } = await pool.query(`select count(*)::int as n from information_schema.tables where table_schema = $1`, [schema]);
    expect(rows[0].n).toBe(1);
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
