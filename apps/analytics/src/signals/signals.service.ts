import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { Counter, type Registry } from 'prom-client';
import type { DetectorSetting, Signal } from '@headroom/contracts';
import { LOGGER, METRICS, type Logger } from '@headroom/runtime';
import { TenantDirectory } from '@headroom/tenancy';
import { resolveSettings } from './detector-settings';
import { DetectorStateRepository } from './detector-state.repository';
import { StreamDetectors, type FedWindow } from './stream-detectors';

export const SIGNALS_SETTINGS = Symbol('SIGNALS_SETTINGS');
export interface SignalsSettings {
  /** The deployment's detectors, for tenants whose record names none. */
  defaults: DetectorSetting[];
  /** A stream's units are saved after this many of its windows (instants) at most. */
  checkpointWindows: number;
  windowMs: number;
  /** Stored windows replayed at most when a stream is restored. */
  maxReplayWindows: number;
}

const streamKey = (tenant: string, partition: number) => `${tenant}\u0000${partition}`;

/**
 * Runs each tenant's detectors (its record's `detectors`, else the deployment's) over its closed
 * windows and keeps their state durable: a stream (tenant × partition) is restored the first time
 * one of its windows closes on this member — its saved units, then the stored windows closed after
 * its last checkpoint replayed through them (silently), so a crash loses no learning — and saved every
 * `checkpointWindows` instants, when its partition moves away, and at shutdown. Erased with the tenant.
 */
@Injectable()
export class SignalsService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly loaded = new Set<string>();
  /** Instants fed per stream since its last checkpoint, and the latest one. */
  private readonly progress = new Map<string, { since: number; last: number }>();
  /** Windows of streams whose restore failed: fed once it succeeds. */
  private readonly waiting = new Map<string, FedWindow[]>();
  private saving: Promise<void> = Promise.resolve();
  private readonly settingsLog = new Map<string, string>();
  private readonly signals: Counter<'kind' | 'detector'>;
  private readonly checkpoints: Counter<'outcome'>;

  constructor(
    @Inject(StreamDetectors) private readonly detectors: StreamDetectors,
    @Inject(DetectorStateRepository) private readonly repo: DetectorStateRepository,
    @Inject(TenantDirectory) private readonly directory: TenantDirectory,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(METRICS) registry: Registry,
    @Inject(SIGNALS_SETTINGS) private readonly settings: SignalsSettings,
  ) {
    this.signals = new Counter({ name: 'headroom_analytics_signals_total', help: 'Signals raised by the detectors, by kind and detector.', labelNames: ['kind', 'detector'], registers: [registry] });
    this.checkpoints = new Counter({ name: 'headroom_analytics_detector_checkpoints_total', help: 'Detector state saves (saved, failed) and restores (restored).', labelNames: ['outcome'], registers: [registry] });
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.repo.migrate();
  }

  /**
   * Feeds closed windows (in window order) to their tenants' detectors; returns the signals. Called
   * before the windows are persisted: a stream being restored replays only what is already stored.
   */
  async observe(closed: FedWindow[], maxSeriesOf: (tenant: string) => number): Promise<{ tenant: string; signal: Signal }[]> {
    const out: { tenant: string; signal: Signal }[] = [];
    const byStream = new Map<string, FedWindow[]>();
    for (const c of closed) {
      if (this.directory.isErased(c.tenant)) continue;
      const k = streamKey(c.tenant, c.partition);
      const list = byStream.get(k) ?? this.waiting.get(k) ?? [];
      list.push(c);
      byStream.set(k, list);
    }
    for (const [k, windows] of byStream) {
      const { tenant, partition } = windows[0];
      this.bind(tenant);
      if (!this.loaded.has(k)) {
        try {
          await this.restore(tenant, partition, maxSeriesOf(tenant));
          this.loaded.add(k);
          this.waiting.delete(k);
        } catch (err) {
          // Feeding now would learn from a blank slate and then overwrite the saved state: wait.
          this.waiting.set(k, windows);
          this.logger.warn({ tenant, partition, err: String(err), waiting: windows.length }, 'could not restore detector state; will retry');
          continue;
        }
      }
      const p = this.progress.get(k) ?? { since: 0, last: -Infinity };
      for (const w of windows) {
        if (w.window.windowStart > p.last) {
          p.since++;
          p.last = w.window.windowStart;
        }
        for (const signal of this.detectors.feed(w, maxSeriesOf(tenant))) {
          this.signals.inc({ kind: signal.kind, detector: signal.detector });
          out.push({ tenant, signal });
        }
      }
      this.progress.set(k, p);
    }
    return out;
  }

  /** The tenant's settings (its own, else the deployment's), through the detectors' validation. */
  private bind(tenant: string): void {
    const own = this.directory.tenant(tenant)?.detectors;
    const { resolved, issues } = resolveSettings(own ?? this.settings.defaults);
    if (issues.length) {
      const text = JSON.stringify(issues);
      if (this.settingsLog.get(tenant) !== text) this.logger.warn({ tenant, issues }, 'detector settings skipped: invalid params');
      this.settingsLog.set(tenant, text);
    }
    this.detectors.configure(tenant, resolved);
  }

  private async restore(tenant: string, partition: number, maxSeries: number): Promise<void> {
    const { units, fedUntil } = await this.repo.load(tenant, partition);
    const r = this.detectors.restore(tenant, units);
    let replayed = 0;
    if (fedUntil !== undefined) {
      const windows = await this.repo.windowsAfter(tenant, partition, fedUntil, this.settings.maxReplayWindows, this.settings.windowMs);
      for (const window of windows) this.detectors.feed({ tenant, partition, window }, maxSeries);
      replayed = windows.length;
      this.progress.set(streamKey(tenant, partition), { since: 0, last: windows.length ? windows[windows.length - 1].windowStart : fedUntil });
    }
    if (r.restored || replayed) this.checkpoints.inc({ outcome: 'restored' }, r.restored);
    if (units.length) this.logger.info({ tenant, partition, restored: r.restored, skipped: r.skipped, replayed }, 'detector state restored');
  }

  /** Saves the streams that have seen `checkpointWindows` instants since their last save. */
  checkpoint(): Promise<void> {
    const due = [...this.progress].filter(([, p]) => p.since >= this.settings.checkpointWindows).map(([k]) => k);
    return due.length ? this.save(due) : Promise.resolve();
  }

  /** After a rebalance: saves and drops the streams of partitions this member no longer owns. */
  async retainPartitions(owned: Set<number>): Promise<void> {
    const moved = [...this.loaded].filter((k) => !owned.has(Number(k.split('\u0000')[1])));
    if (moved.length === 0) return;
    await this.save(moved);
    this.detectors.dropPartitions((p) => owned.has(p));
    for (const k of moved) {
      this.loaded.delete(k);
      this.progress.delete(k);
      this.waiting.delete(k);
    }
  }

  /** Every loaded stream, whatever its count: the process is stopping. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.save([...this.loaded]);
  }

  /** Snapshots are taken when the save runs (serialised), so a later save never writes older state. */
  private save(streams: string[]): Promise<void> {
    this.saving = this.saving.then(async () => {
      const byTenant = new Map<string, number[]>();
      for (const k of streams) {
        const [tenant, partition] = k.split('\u0000');
        if (this.directory.isErased(tenant) || !this.detectors.hasTenant(tenant)) continue;
        byTenant.set(tenant, [...(byTenant.get(tenant) ?? []), Number(partition)]);
      }
      for (const [tenant, partitions] of byTenant) {
        const units = partitions.flatMap((partition) => this.detectors.snapshotUnits(tenant, { partition }));
        const marks = new Map<number, number>();
        for (const partition of partitions) {
          const p = this.progress.get(streamKey(tenant, partition));
          if (p && Number.isFinite(p.last)) marks.set(partition, p.last);
        }
        try {
          await this.repo.save(tenant, units, marks);
          for (const partition of partitions) {
            const p = this.progress.get(streamKey(tenant, partition));
            if (p) p.since = 0;
          }
          this.checkpoints.inc({ outcome: 'saved' });
        } catch (err) {
          // Marked clean by the snapshot: dirty again, so the next checkpoint writes them.
          this.detectors.restoreDirty(tenant, units);
          this.checkpoints.inc({ outcome: 'failed' });
          this.logger.warn({ tenant, err: String(err) }, 'could not save detector state; will retry');
        }
      }
    });
    return this.saving;
  }

  /** Erasure: the in-memory detectors now, the stored state behind any save in progress. */
  forgetTenant(tenant: string): void {
    this.detectors.forgetTenant(tenant);
    for (const k of [...this.loaded]) if (k.startsWith(`${tenant}\u0000`)) this.loaded.delete(k);
    for (const k of [...this.progress.keys()]) if (k.startsWith(`${tenant}\u0000`)) this.progress.delete(k);
    for (const k of [...this.waiting.keys()]) if (k.startsWith(`${tenant}\u0000`)) this.waiting.delete(k);
  }

  deleteTenant(tenant: string): Promise<void> {
    const done = this.saving.then(() => this.repo.deleteTenant(tenant));
    this.saving = done.catch(() => undefined);
    return done;
  }
}
