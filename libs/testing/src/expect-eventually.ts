/**
 * Polls `probe` until it returns without throwing (kafkajs's waitFor idea). The last error is
 * rethrown at the deadline, so a failing test says what was still wrong.
 */
export async function expectEventually<T>(probe: () => T | Promise<T>, opts: { timeoutMs?: number; intervalMs?: number } = {}): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
  let lastError: unknown;
  for (;;) {
    try {
      return await probe();
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) throw lastError;
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 200));
  }
}

let counter = 0;
/** Unique per test run, valid as a tenant id or topic suffix. */
export function uniqueId(prefix = 't'): string {
  counter += 1;
  return `${prefix}-${Date.now().toString(36)}-${process.pid.toString(36)}-${counter}`;
}
