/** Named readiness checks; `/readyz` is 200 only when all pass (e.g. Kafka connected, control topic caught up). */
export class Readiness {
  private readonly checks = new Map<string, () => boolean | Promise<boolean>>();
  private shuttingDown = false;

  register(name: string, check: () => boolean | Promise<boolean>): void {
    this.checks.set(name, check);
  }

  /** Once shutdown starts, report not-ready so load balancers stop sending traffic. */
  markShuttingDown(): void {
    this.shuttingDown = true;
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
    return { ready: Object.values(checks).every(Boolean), checks };
  }
}
