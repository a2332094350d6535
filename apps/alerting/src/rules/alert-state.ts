/** What is remembered per tenant + fingerprint between windows. */
export type TrackedAlert =
  | { status: 'inactive'; lastWindowStart: number }
  | { status: 'firing'; lastWindowStart: number; startsAt: number };

export interface Observation {
  windowStart: number;
  breached: boolean;
}

export type Transition = { state: 'firing'; startsAt: number } | { state: 'resolved'; startsAt: number; endsAt: number };

export type Step =
  /** The window is not newer than the last one evaluated (replay, out-of-order): nothing changes. */
  | { kind: 'stale' }
  | { kind: 'advance'; next: TrackedAlert; transition?: Transition };

/**
 * The state machine, pure: inactive → firing when a window breaches; firing → resolved (and back to
 * inactive) when a later window of the series no longer breaches. A window at or before the last
 * evaluated one is ignored, so a replayed or late window cannot flap an alert.
 */
export function step(current: TrackedAlert | undefined, obs: Observation): Step {
  if (current && obs.windowStart <= current.lastWindowStart) return { kind: 'stale' };
  const lastWindowStart = obs.windowStart;
  if (!current || current.status === 'inactive') {
    if (!obs.breached) return { kind: 'advance', next: { status: 'inactive', lastWindowStart } };
    return {
      kind: 'advance',
      next: { status: 'firing', lastWindowStart, startsAt: obs.windowStart },
      transition: { state: 'firing', startsAt: obs.windowStart },
    };
  }
  if (obs.breached) return { kind: 'advance', next: { ...current, lastWindowStart } };
  return {
    kind: 'advance',
    next: { status: 'inactive', lastWindowStart },
    transition: { state: 'resolved', startsAt: current.startsAt, endsAt: obs.windowStart },
  };
}

/**
 * Per-process table of tracked alerts, keyed by tenant + fingerprint. `decide` does not change
 * anything: the caller `apply`s the step only once the transition's side effects (notification,
 * alert event) have succeeded, so a retried record re-attempts them instead of finding the window
 * already "seen".
 */
export class AlertStateTable {
  private readonly alerts = new Map<string, TrackedAlert>();

  decide(tenant: string, fingerprint: string, obs: Observation): Step {
    return step(this.alerts.get(keyOf(tenant, fingerprint)), obs);
  }

  apply(tenant: string, fingerprint: string, next: TrackedAlert): void {
    this.alerts.set(keyOf(tenant, fingerprint), next);
  }

  /** Whether this process already holds the alert (else the caller loads it from the store first). */
  has(tenant: string, fingerprint: string): boolean {
    return this.alerts.has(keyOf(tenant, fingerprint));
  }

  get(tenant: string, fingerprint: string): TrackedAlert | undefined {
    return this.alerts.get(keyOf(tenant, fingerprint));
  }

  firingCount(): number {
    let n = 0;
    for (const a of this.alerts.values()) if (a.status === 'firing') n++;
    return n;
  }

  /** Erased tenants leave nothing behind. */
  /** After a rebalance: partitions (so tenants) may have moved; the store is the truth again. */
  clear(): void {
    this.alerts.clear();
  }

  forgetTenant(tenant: string): void {
    const prefix = `${tenant}\u0000`;
    for (const k of this.alerts.keys()) if (k.startsWith(prefix)) this.alerts.delete(k);
  }
}

// Tenant ids cannot contain NUL, so the key is unambiguous.
const keyOf = (tenant: string, fingerprint: string) => `${tenant}\u0000${fingerprint}`;
