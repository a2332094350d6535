import { Pool } from 'pg';
import type { MetricPoint } from '@headroom/contracts';
import { checkInt, checkStringList, checkUnknownKeys, checkUrl, endpointOf, isObject } from '../checks';
import type { ConfigIssue, ScrapeContext, Scraper, ScraperFactory } from '../scraper';

export interface PostgresScraperConfig {
  /** `postgres://user:password@host:port/db`; credentials never appear in labels or logs. */
  url: string;
  /** Databases reported from pg_stat_database; empty = every database but templates. */
  databases: string[];
  /** Connect and statement timeout. */
  timeoutMs: number;
}

export const DEFAULT_POSTGRES_SCRAPER_CONFIG: PostgresScraperConfig = { url: '', databases: [], timeoutMs: 5_000 };

const DATABASE_SQL = `
  SELECT d.datname, d.numbackends, d.xact_commit, d.xact_rollback, d.blks_hit, d.blks_read, d.deadlocks,
         d.tup_returned, d.tup_fetched, d.tup_inserted, d.tup_updated, d.tup_deleted, d.temp_bytes, d.conflicts
    FROM pg_stat_database d JOIN pg_database db ON db.oid = d.datid
   WHERE NOT db.datistemplate AND ($1::text[] IS NULL OR d.datname = ANY($1::text[]))`;

/** Backends other than this one; other users' timings are visible only with pg_monitor / pg_read_all_stats. */
const ACTIVITY_SQL = `
  SELECT coalesce(max(extract(epoch FROM clock_timestamp() - query_start)) FILTER (WHERE state = 'active'), 0)::float8 AS longest_query,
         coalesce(max(extract(epoch FROM clock_timestamp() - xact_start)) FILTER (WHERE xact_start IS NOT NULL), 0)::float8 AS longest_xact,
         count(*) FILTER (WHERE state = 'active')::int AS active,
         count(*) FILTER (WHERE state = 'idle in transaction')::int AS idle_in_xact,
         count(*) FILTER (WHERE wait_event_type = 'Lock')::int AS waiting_on_lock
    FROM pg_stat_activity
   WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()`;

const SERVER_SQL = `
  SELECT current_setting('max_connections')::int AS max_connections,
         (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int AS connections,
         pg_is_in_recovery() AS in_recovery,
         CASE WHEN pg_is_in_recovery() THEN
           CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
                ELSE coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0) END
         END::float8 AS replica_lag_seconds`;

/** On a primary: each standby's lag (none on a standalone server: no points). */
const REPLICATION_SQL = `
  SELECT coalesce(application_name, '') AS application_name, coalesce(client_addr::text, 'local') AS client_addr,
         coalesce(extract(epoch FROM replay_lag), 0)::float8 AS lag_seconds,
         coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), 0)::float8 AS lag_bytes
    FROM pg_stat_replication`;

/** pg_stat_database column → metric (postgres_exporter's names, with pg_ prefix). */
const DB_COLUMNS: [column: string, metric: string, unit?: string][] = [
  ['numbackends', 'pg_stat_database_numbackends'],
  ['xact_commit', 'pg_xact_commit_total'],
  ['xact_rollback', 'pg_xact_rollback_total'],
  ['blks_hit', 'pg_blks_hit_total'],
  ['blks_read', 'pg_blks_read_total'],
  ['deadlocks', 'pg_deadlocks_total'],
  ['tup_returned', 'pg_tup_returned_total'],
  ['tup_fetched', 'pg_tup_fetched_total'],
  ['tup_inserted', 'pg_tup_inserted_total'],
  ['tup_updated', 'pg_tup_updated_total'],
  ['tup_deleted', 'pg_tup_deleted_total'],
  ['temp_bytes', 'pg_temp_bytes_total', 'By'],
  ['conflicts', 'pg_conflicts_total'],
];

/**
 * A PostgreSQL server: per database connections, transactions, cache hit ratio, deadlocks
 * (pg_stat_database); the longest running query and transaction (pg_stat_activity); replication lag
 * (standby: since the last replayed transaction; primary: per standby, seconds and bytes).
 * One pooled connection, kept between scrapes. Points carry `instance=<host:port>`.
 */
export const postgresScraper: ScraperFactory<PostgresScraperConfig> = {
  type: 'postgres',
  defaultConfig: DEFAULT_POSTGRES_SCRAPER_CONFIG,

  validate(config: unknown): ConfigIssue[] {
    if (!isObject(config)) return [{ path: '', message: 'must be an object' }];
    const issues: ConfigIssue[] = [];
    checkUnknownKeys(config, Object.keys(DEFAULT_POSTGRES_SCRAPER_CONFIG), '', issues);
    checkUrl(config, 'url', ['postgres:', 'postgresql:'], '', issues);
    checkStringList(config, 'databases', '', issues);
    checkInt(config, 'timeoutMs', 100, 60_000, '', issues);
    return issues;
  },

  create(config: PostgresScraperConfig): Scraper {
    const instance = endpointOf(config.url, 5432);
    const pool = new Pool({
      connectionString: config.url,
      max: 1,
      connectionTimeoutMillis: config.timeoutMs,
      statement_timeout: config.timeoutMs,
      idleTimeoutMillis: 0,
      application_name: 'headroom-collectors-scraper',
    });
    pool.on('error', () => undefined); // an idle connection lost: the next scrape reconnects
    return {
      async collect({ timestamp }: ScrapeContext): Promise<MetricPoint[]> {
        const points: MetricPoint[] = [];
        const add = (name: string, value: unknown, labels: Record<string, string> = {}, unit?: string) => {
          const v = Number(value);
          if (value !== null && Number.isFinite(v)) points.push({ name, labels: { instance, ...labels }, value: v, timestamp, ...(unit ? { unit } : {}) });
        };
        const client = await pool.connect();
        try {
          const dbs = await client.query(DATABASE_SQL, [config.databases.length ? config.databases : null]);
          for (const row of dbs.rows as Record<string, unknown>[]) {
            const datname = String(row['datname']);
            for (const [column, metric, unit] of DB_COLUMNS) add(metric, row[column], { datname }, unit);
            const hit = Number(row['blks_hit']);
            const read = Number(row['blks_read']);
            if (hit + read > 0) add('pg_cache_hit_ratio', hit / (hit + read), { datname });
          }
          const server = (await client.query(SERVER_SQL)).rows[0] as Record<string, unknown>;
          add('pg_max_connections', server['max_connections']);
          add('pg_connections', server['connections']);
          add('pg_in_recovery', server['in_recovery'] ? 1 : 0);
          if (server['in_recovery']) add('pg_replication_lag_seconds', server['replica_lag_seconds'], { role: 'standby' }, 's');
          const activity = (await client.query(ACTIVITY_SQL)).rows[0] as Record<string, unknown>;
          add('pg_longest_query_seconds', activity['longest_query'], {}, 's');
          add('pg_longest_transaction_seconds', activity['longest_xact'], {}, 's');
          add('pg_backends_active', activity['active']);
          add('pg_backends_idle_in_transaction', activity['idle_in_xact']);
          add('pg_backends_waiting_on_lock', activity['waiting_on_lock']);
          if (!server['in_recovery']) {
            for (const row of (await client.query(REPLICATION_SQL)).rows as Record<string, unknown>[]) {
              const labels = { role: 'primary', application_name: String(row['application_name']), client_addr: String(row['client_addr']) };
              add('pg_replication_lag_seconds', row['lag_seconds'], labels, 's');
              add('pg_replication_lag_bytes', row['lag_bytes'], labels, 'By');
            }
          }
          client.release();
        } catch (err) {
          client.release(err as Error); // a broken connection is not reused
          throw err;
        }
        return points;
      },
      async close() {
        await pool.end().catch(() => undefined);
      },
    };
  },
};
