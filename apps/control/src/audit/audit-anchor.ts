import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { LOGGER, type Logger } from '@headroom/runtime';
import { AuditRepository } from './audit.repository';

export const AUDIT_ANCHOR_INTERVAL_MS = Symbol('AUDIT_ANCHOR_INTERVAL_MS');

/**
 * Writes each moved chain head (chain, seq, hash) to the log at an interval. Logs leave this
 * database for a store its administrators do not control, so a later verify can be compared with
 * them: a chain whose tail was cut and whose head was rewound verifies "ok" on its own, but its
 * head no longer matches (or falls behind) the last one logged. See docs/audit.md.
 */
@Injectable()
export class AuditAnchor implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private timer: NodeJS.Timeout | undefined;
  private since = new Date(0);

  constructor(
    @Inject(AuditRepository) private readonly repo: AuditRepository,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(AUDIT_ANCHOR_INTERVAL_MS) private readonly intervalMs: number,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.anchor(), this.intervalMs);
    this.timer.unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.anchor();
  }

  /** Logs the heads moved since the last call (every head, the first time). */
  async anchor(): Promise<void> {
    try {
      const { asOf, heads } = await this.repo.headsSince(this.since);
      for (const head of heads) this.logger.info({ auditAnchor: head }, 'audit chain head');
      // A head moved by a transaction that began before this read but committed after it carries an
      // earlier time: the next read looks back a minute, logging some heads twice rather than never.
      this.since = new Date(asOf.getTime() - 60_000);
    } catch (err) {
      this.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'could not log the audit chain heads');
    }
  }
}
