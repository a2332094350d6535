import { Readiness } from './readiness';

describe('Readiness', () => {
  it('is ready only when every check passes, and a throwing check counts as failing', async () => {
    const r = new Readiness();
    r.register('kafka', () => true);
    r.register('db', async () => {
      throw new Error('down');
    });
    expect(await r.status()).toEqual({ ready: false, checks: { kafka: true, db: false } });
  });

  it('answers request paths from a recent status instead of running every check each time', async () => {
    const r = new Readiness();
    let runs = 0;
    r.register('db', () => (runs++, true));
    const t = Date.now();
    expect(await r.isReady(1_000, t)).toBe(true);
    expect(await r.isReady(1_000, t + 500)).toBe(true);
    expect(runs).toBe(1);
    await r.isReady(1_000, t + 5_000);
    expect(runs).toBe(2);
  });

  it('reports not ready at once when shutdown starts, whatever was cached', async () => {
    const r = new Readiness();
    r.register('db', () => true);
    expect(await r.isReady()).toBe(true);
    r.markShuttingDown();
    expect(await r.isReady()).toBe(false);
  });
});
