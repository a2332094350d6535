import type { ErasureLeft } from '@headroom/contracts';
import type { Logger } from '@headroom/runtime';
import type { TenantDirectory } from './tenant-directory';

/**
 * Subjects erased while this process runs, so that what was already on its way when the request
 * came — windows still open in memory, late points, telemetry records not consumed yet, a replay —
 * is not stored again after the delete. Only data from before the request is dropped: a subject
 * who goes on using the platform produces new data. Kept for the telemetry topic's retention (the
 * longest a replay can reach back). After a restart, the service's SubjectErasureLog
 * (@headroom/database) fills it again: control tombstones a request once complete, so the control
 * topic alone would not.
 */
export class SubjectErasures {
  private readonly byTenant = new Map<string, Map<string, number>>();
  private size = 0;

  constructor(readonly horizonMs = 7 * 24 * 3600_000) {}

  add(tenant: string, pseudonym: string, requestedAt: number): void {
    let subjects = this.byTenant.get(tenant);
    if (!subjects) this.byTenant.set(tenant, (subjects = new Map()));
    if (!subjects.has(pseudonym)) this.size++;
    subjects.set(pseudonym, Math.max(requestedAt, subjects.get(pseudonym) ?? 0));
  }

  forgetTenant(tenant: string): void {
    this.size -= this.byTenant.get(tenant)?.size ?? 0;
    this.byTenant.delete(tenant);
  }

  /** Whether data of `subject` at `at` (ms) is from before its erasure. */
  erased(tenant: string, subject: string, at: number): boolean {
    if (this.size === 0) return false;
    const requestedAt = this.byTenant.get(tenant)?.get(subject);
    return requestedAt !== undefined && at <= requestedAt;
  }

  /** Whether a series of `tenant` carries an erased subject's pseudonym as a label value, for a window starting at `at`. */
  coversLabels(tenant: string, labels: Readonly<Record<string, string>>, at: number): boolean {
    if (this.size === 0) return false;
    const subjects = this.byTenant.get(tenant);
    if (!subjects) return false;
    for (const v of Object.values(labels)) {
      const requestedAt = subjects.get(v);
      if (requestedAt !== undefined && at <= requestedAt) return true;
    }
    return false;
  }

  /** Removes from `items` (in place) those `covered` says are erased, and returns them. */
  take<T>(items: T[], covered: (item: T) => boolean): T[] {
    if (this.size === 0 || items.length === 0) return [];
    const out: T[] = [];
    let n = 0;
    for (const item of items) {
      if (covered(item)) out.push(item);
      else items[n++] = item;
    }
    items.length = n;
    return out;
  }

  /** Drops entries past the horizon. */
  prune(now: number): void {
    for (const [tenant, subjects] of this.byTenant) {
      for (const [s, at] of subjects) {
        if (now - at <= this.horizonMs) continue;
        subjects.delete(s);
        this.size--;
      }
      if (subjects.size === 0) this.byTenant.delete(tenant);
    }
  }
}

/** Where a service keeps its erased subjects across restarts (SubjectErasureLog in @headroom/database). */
export interface SubjectErasureStore {
  migrate(): Promise<void>;
  record(tenant: string, subject: string, requestedAt: number): Promise<void>;
  load(since: number): Promise<{ tenant: string; subject: string; requestedAt: number }[]>;
  forgetTenant(tenant: string): Promise<number>;
  prune(before: number): Promise<number>;
}

/**
 * A service's SubjectErasures kept across restarts: the one owner of what analytics, alerting and
 * exporters share. `load()` (in onModuleInit, before any record is consumed) fills the memory from the
 * store; `add()` remembers a subject in memory at once, then in the store; an erased tenant's entries
 * leave both.
 */
export class DurableSubjectErasures {
  private markLoaded!: () => void;
  private readonly loaded = new Promise<void>((resolve) => (this.markLoaded = resolve));

  constructor(
    readonly memory: SubjectErasures,
    private readonly store: SubjectErasureStore,
    directory: TenantDirectory,
    private readonly logger: Logger,
  ) {
    directory.onRecord((r) => {
      if (r.kind !== 'tenant_erased') return;
      this.memory.forgetTenant(r.tenant);
      void this.loaded.then(() => this.store.forgetTenant(r.tenant)).catch((err) => this.logger.warn({ err: String(err), tenant: r.tenant }, 'could not forget an erased tenant’s suppression list'));
    });
  }

  async load(now = Date.now()): Promise<void> {
    await this.store.migrate();
    await this.store.prune(now - this.memory.horizonMs);
    const known = await this.store.load(now - this.memory.horizonMs);
    for (const e of known) this.memory.add(e.tenant, e.subject, e.requestedAt);
    if (known.length) this.logger.info({ subjects: known.length }, 'erased subjects reloaded from the suppression list');
    this.markLoaded();
  }

  /** In memory first (nothing from before `requestedAt` is stored again from now on), then in the store. */
  async add(tenant: string, subject: string, requestedAt: number): Promise<void> {
    this.memory.add(tenant, subject, requestedAt);
    await this.loaded;
    await this.store.record(tenant, subject, requestedAt);
  }

  async prune(now = Date.now()): Promise<void> {
    this.memory.prune(now);
    await this.store.prune(now - this.memory.horizonMs);
  }

  /** The `left` entry of an erasure: the pseudonym stays on `store`'s list until the horizon. */
  left(store: string, requestedAt: number, why: string): ErasureLeft {
    const until = new Date(requestedAt + this.memory.horizonMs).toISOString();
    return { store, reason: `the pseudonym stays on the suppression list until ${until}, so that ${why}; then it is pruned` };
  }
}
