import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Pool } from 'pg';
import { PG_POOL } from '@headroom/database';
import { LOGGER, type Logger } from '@headroom/runtime';
import { KeysService } from './keys.service';

/** Any value distinct from control's other advisory locks: one key job at a time across replicas. */
const KEY_JOB_LOCK = 0x6b65_7973; // "keys"
export const KEY_JOB_INTERVAL_MS = Symbol('KEY_JOB_INTERVAL_MS');

/**
 * Runs KeysService.runJob on a timer (CONTROL_KEY_JOB_INTERVAL, a minute by default). A session-level
 * advisory lock held for the run makes it one replica at a time; the others skip that round. Rotation
 * is idempotent under its own row locks as well, so a lock lost with its connection costs nothing.
 */
@Injectable()
export class KeyJob implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(KeysService) private readonly keys: KeysService,
    @Inject(KEY_JOB_INTERVAL_MS) private readonly intervalMs: number,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** One round, unless one is still running here. Resolves false when another replica held the lock. */
  tick(): Promise<void> {
    this.running ??= this.round()
      .catch((err) => this.logger.warn({ err: String(err) }, 'key job failed; retried at the next run'))
      .finally(() => (this.running = undefined));
    return this.running;
  }

  private async round(): Promise<void> {
    const db = await this.pool.connect();
    try {
      const { rows } = await db.query<{ ok: boolean }>('select pg_try_advisory_lock($1) as ok', [KEY_JOB_LOCK]);
      if (!rows[0].ok) return;
      try {
        const { rotated, retired } = await this.keys.runJob();
        if (rotated.length || Object.keys(retired).length) this.logger.info({ rotated, retired }, 'key job');
      } finally {
        await db.query('select pg_advisory_unlock($1)', [KEY_JOB_LOCK]);
      }
    } finally {
      db.release();
    }
  }
}
