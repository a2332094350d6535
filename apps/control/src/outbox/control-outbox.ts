import { Inject, Injectable, Optional, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { Pool, PoolClient } from 'pg';
import { AuditEventMessage, ControlRecordMessage, controlKey, type AuditEvent, type ControlRecord } from '@headroom/contracts';
import { inTransaction, migrateSchema, PG_POOL } from '@headroom/database';
import type { SigningClock } from '@headroom/crypto';
import type { RecordPublisher } from '@headroom/kafka';
import { LOGGER, type Logger } from '@headroom/runtime';
import { PUBLISHER, SIGNING_CLOCK } from '@headroom/tenancy';

const OUTBOX_SCHEMA = `
create schema if not exists control;
create table if not exists control.outbox (
  id bigserial primary key,
  kind text not null check (kind in ('control', 'audit')),
  key text not null,
  value jsonb,
  created_at timestamptz not null default now()
);
-- The last signing time of any relay: the next relay, on whichever replica, signs after it.
create table if not exists control.relay_clock (
  id int primary key default 1 check (id = 1),
  last_signed_at bigint not null
);
`;

/** Any value: only one relay at a time across control replicas (a transaction-scoped advisory lock). */
const RELAY_LOCK = 0x6865_6164; // "head"
const BATCH = 500;
const LOCK_BUSY = -1;

export type OutboxEntry = { kind: 'control'; key: string; value: ControlRecord | null } | { kind: 'audit'; key: string; value: AuditEvent };

/** A control record keyed for compaction, ready for `enqueue`. */
export const controlEntry = (value: ControlRecord): OutboxEntry => ({ kind: 'control', key: controlKey(value), value });
export const tombstoneEntry = (key: string): OutboxEntry => ({ kind: 'control', key, value: null });
export const auditEntry = (event: Omit<AuditEvent, 'at' | 'service' | 'outcome' | 'details'> & Partial<Pick<AuditEvent, 'details'>>): OutboxEntry => ({
  kind: 'audit',
  key: event.tenant ?? 'platform',
  value: { ...event, at: new Date().toISOString(), service: 'control', outcome: 'success', details: event.details ?? {} },
});

/**
 * Transactional outbox: a change and the records that announce it are written in one PostgreSQL
 * transaction, and a relay publishes committed rows in order, then deletes them. So Kafka never
 * sees a change PostgreSQL rolled back (the rows vanish with it), and a change PostgreSQL keeps is
 * published even if control dies right after the commit (the next relay, here or on a replica,
 * sends it). Delivery is at least once: a relay that dies after publishing and before deleting
 * publishes those rows again, which the compacted topic absorbs (latest value per key) and the
 * audit store dedupes. Records are signed when relayed, so their signing times follow the order of
 * the outbox (the services' replay check relies on it), also across replicas with skewed clocks:
 * the relay signs after the last time any relay signed (control.relay_clock, under the relay lock).
 */
@Injectable()
export class ControlOutbox implements OnModuleInit, OnApplicationShutdown {
  private timer: NodeJS.Timeout | undefined;
  private relaying: Promise<number> | undefined;
  private again = false;
  private stopped = false;

  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(PUBLISHER) private readonly publisher: RecordPublisher,
    @Inject(LOGGER) private readonly logger: Logger,
    @Optional() @Inject(SIGNING_CLOCK) private readonly clock?: SigningClock,
  ) {}

  async onModuleInit(): Promise<void> {
    await migrateSchema(this.pool, 'control-outbox', OUTBOX_SCHEMA);
    // Also sends what a crashed control committed and never relayed.
    this.timer = setInterval(() => void this.relay().catch(() => undefined), 1_000);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
  }

  /** Writes `entries` in the caller's transaction: they are published only if it commits. */
  async enqueue(db: PoolClient, entries: OutboxEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const kinds: string[] = [];
    const keys: string[] = [];
    const values: (string | null)[] = [];
    for (const e of entries) {
      kinds.push(e.kind);
      keys.push(e.key);
      values.push(e.value === null ? null : JSON.stringify(e.value));
    }
    // unnest keeps the order of `entries` in the ids (one statement, one round trip).
    await db.query('insert into control.outbox (kind, key, value) select kind, key, value from unnest($1::text[], $2::text[], $3::jsonb[]) with ordinality as t(kind, key, value, n) order by n', [kinds, keys, values]);
  }

  /**
   * Publishes every committed row, in id order, until the outbox is empty (or another replica holds
   * the relay). Concurrent callers share the run; a call during a run makes it go round once more,
   * so a caller that just committed sees its rows sent when this resolves.
   */
  relay(): Promise<number> {
    if (this.relaying) {
      this.again = true;
      return this.relaying;
    }
    this.relaying = (async () => {
      let sent = 0;
      do {
        this.again = false;
        for (let busy = 0; ; ) {
          const n = await this.relayBatch();
          if (n === LOCK_BUSY) {
            // Another replica is relaying (it sends our rows too, in order): wait for it briefly rather
            // than for the next tick, so the caller's answer still follows its records onto Kafka.
            if (++busy > 40 || this.stopped) break;
            await new Promise((r) => setTimeout(r, 25));
            continue;
          }
          sent += n;
          if (n < BATCH) break;
        }
      } while (this.again && !this.stopped);
      return sent;
    })().finally(() => (this.relaying = undefined));
    return this.relaying;
  }

  /**
   * Runs `publish` (control records sent outside the outbox: the boot's republication) under the
   * relay's lock and signing floor, so its signing times too come after every relayed record's.
   */
  underRelayLock<T>(publish: () => Promise<T>): Promise<T> {
    return inTransaction(this.pool, async (db) => {
      await db.query('select pg_advisory_xact_lock($1)', [RELAY_LOCK]);
      await this.floorClock(db);
      const result = await publish();
      await this.saveClock(db);
      return result;
    });
  }

  private async floorClock(db: PoolClient): Promise<void> {
    const floor = await db.query<{ last_signed_at: string }>('select last_signed_at from control.relay_clock where id = 1');
    if (floor.rows[0]) this.clock?.advanceTo(Number(floor.rows[0].last_signed_at));
  }

  private async saveClock(db: PoolClient): Promise<void> {
    if (!this.clock?.lastSigned()) return;
    await db.query(
      'insert into control.relay_clock (id, last_signed_at) values (1, $1) on conflict (id) do update set last_signed_at = greatest(control.relay_clock.last_signed_at, excluded.last_signed_at)',
      [this.clock.lastSigned()],
    );
  }

  /** Rows not yet published (a readiness signal and a spec's check). */
  async pending(): Promise<number> {
    const { rows } = await this.pool.query<{ n: string }>('select count(*)::text as n from control.outbox');
    return Number(rows[0].n);
  }

  private async relayBatch(): Promise<number> {
    const db = await this.pool.connect();
    try {
      await db.query('begin');
      const { rows: lock } = await db.query<{ ok: boolean }>('select pg_try_advisory_xact_lock($1) as ok', [RELAY_LOCK]);
      if (!lock[0].ok) {
        await db.query('rollback');
        return LOCK_BUSY;
      }
      const { rows } = await db.query<{ id: string; kind: 'control' | 'audit'; key: string; value: unknown }>('select id, kind, key, value from control.outbox order by id limit $1', [BATCH]);
      if (rows.length === 0) {
        await db.query('commit');
        return 0;
      }
      // Signing times follow the outbox order across replicas, whatever their clocks say.
      await this.floorClock(db);
      // Consecutive rows of one kind go in one publish call; the order across kinds is kept.
      for (let i = 0; i < rows.length; ) {
        let j = i;
        while (j < rows.length && rows[j].kind === rows[i].kind) j++;
        const run = rows.slice(i, j);
        if (rows[i].kind === 'control') {
          await this.publisher.publish(
            ControlRecordMessage,
            run.map((r) => ({ key: r.key, value: r.value as ControlRecord | null })),
          );
        } else {
          await this.publisher.publish(
            AuditEventMessage,
            run.map((r) => ({ key: r.key, value: r.value as AuditEvent })),
          );
        }
        i = j;
      }
      await db.query('delete from control.outbox where id = any($1::bigint[])', [rows.map((r) => r.id)]);
      await this.saveClock(db);
      await db.query('commit');
      return rows.length;
    } catch (err) {
      await db.query('rollback').catch(() => undefined);
      this.logger.warn({ err: String(err) }, 'control outbox: relay failed; retrying');
      throw err;
    } finally {
      db.release();
    }
  }
}
