/** Named readiness checks; `/readyz` is 200 only when all pass (e.g. Kafka connected, control topic caught up). */
export class Readiness {
  private readonly checks = new Map<string, () => boolean | Promise<boolean>>();
  private shuttingDown = false;
  private last: { at: number; status: { ready: boolean; checks: Record<string, boolean> } } | undefined;

  register(name: string, check: () => boolean | Promise<boolean>): void {
    this.checks.set(name, check);
  }

  /** Once shutdown starts, report not-ready so load balancers stop sending traffic. */
  markShuttingDown(): void {
    this.shuttingDown = true;
  }

  /**
   * Whether the service may serve requests, from a status at most `maxAgeMs` old: request paths
   * gate on readiness without running every check (a database round trip among them) per request.
   */
  async isReady(maxAgeMs = 1_000, now = Date.now()): Promise<boolean> {
    if (!this.shuttingDown && this.last && now - this.last.at <= maxAgeMs) return this.last.status.ready;
    return (await this.status()).ready;
  }

  async status(): Promise<{ ready: boolean; checks: Record<string, boolean> }> {
    const checks: Record<string, boolean> = {};
    for (const [name, check] of this.checks) {
      try {
        checks[name] = await check();
      } catch {
        checks[name] = false;
      }
    }
    if (this.shuttingDown) checks['shutdown'] = false;
    const status = { ready: Object.values(checks).every(Boolean), checks };
    this.last = { at: Date.now(), status };
    return status;
  }
}
