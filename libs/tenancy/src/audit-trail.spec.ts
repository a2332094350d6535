import { Registry } from 'prom-client';
import { AuditEventSchema, type AuditEvent } from '@headroom/contracts';
import { AuditTrail, denialSource, TokenBucket, type AuditTrailOptions } from './audit-trail';

function setup(options: AuditTrailOptions = {}, publish: (events: AuditEvent[]) => Promise<void> = async () => undefined) {
  let now = Date.parse('2026-03-01T12:00:00Z');
  const events: AuditEvent[] = [];
  const keys: string[] = [];
  const warnings: unknown[] = [];
  const registry = new Registry();
  const publisher = {
    publish: async (_contract: unknown, records: { key?: string; value: unknown }[]) => {
      // As the real publisher does: validated before anything is sent.
      const values = records.map((r) => AuditEventSchema.parse(r.value));
      await publish(values);
      events.push(...values);
      keys.push(...records.map((r) => r.key ?? ''));
    },
  };
  const trail = new AuditTrail(publisher as never, 'collectors', { warn: (o: unknown) => warnings.push(o) } as never, registry, { ...options, now: () => now });
  const settle = () => new Promise((r) => setImmediate(r));
  return { trail, events, keys, warnings, registry, settle, advance: (ms: number) => (now += ms) };
}

describe('TokenBucket', () => {
  it('allows the burst at once, then the rate', () => {
    const b = new TokenBucket(10, 50, 0);
    let taken = 0;
    while (b.take(0)) taken++;
    expect(taken).toBe(50);
    expect(b.take(50)).toBe(false);
    expect(b.take(100)).toBe(true); // 100 ms at 10/s: one token
    expect(b.take(100)).toBe(false);
    expect(b.isFull(100 + 5_000)).toBe(true);
  });

  it('does not refill when the clock goes back', () => {
    const b = new TokenBucket(10, 1, 1_000);
    expect(b.take(1_000)).toBe(true);
    expect(b.take(500)).toBe(false);
    expect(b.take(1_050)).toBe(false);
  });
});

describe('denialSource', () => {
  it('charges an IPv6 client by its /64 and an IPv4-mapped one by its IPv4 address', () => {
    expect(denialSource('2001:db8:0:12::1')).toBe(denialSource('2001:0db8:0000:0012:ffff:ffff:ffff:ffff'));
    expect(denialSource('2001:db8:0:12::1')).toBe('2001:db8:0:12::/64');
    expect(denialSource('2001:db8:0:13::1')).not.toBe(denialSource('2001:db8:0:12::1'));
    expect(denialSource('::ffff:10.0.0.7')).toBe('10.0.0.7');
    expect(denialSource('10.0.0.7')).toBe('10.0.0.7');
    expect(denialSource(undefined)).toBe('unknown');
  });
});

describe('AuditTrail', () => {
  it('records an event with its time, service and a unique id, keyed by tenant (platform without one)', async () => {
    const { trail, events, keys, settle } = setup();
    trail.record({ actor: 'key:k1a2b3c4d5', tenant: 'nova', action: 'http.post', target: 'POST /v1/silences', outcome: 'success', details: { status: 201 } });
    trail.record({ actor: 'platform', action: 'http.post', target: 'POST /v1/silences', outcome: 'success', details: { status: 201 } });
    await settle();
    expect(events).toHaveLength(2);
    expect(events[0]).toMatchObject({ at: '2026-03-01T12:00:00.000Z', service: 'collectors', tenant: 'nova', actor: 'key:k1a2b3c4d5' });
    expect(events[0].id).not.toBe(events[1].id);
    expect(keys).toEqual(['nova', 'platform']);
  });

  it('never throws: a refused event or a failed publish is logged and counted', async () => {
    const { trail, warnings, registry, settle } = setup({}, async () => Promise.reject(new Error('broker down')));
    expect(() => trail.record({ actor: 'x', action: 'Not An Action', outcome: 'success', details: {} })).not.toThrow();
    expect(() => trail.record({ actor: 'x', action: 'http.post', outcome: 'success', details: {} })).not.toThrow();
    await settle();
    expect(warnings).toHaveLength(2);
    expect(JSON.stringify(warnings)).toContain('broker down');
    expect((await registry.getSingleMetricAsString('headroom_audit_events_failed_total'))).toContain('reason="publish"} 2');
  });

  it('drops (and counts) what is beyond the pending bound while Kafka does not answer', async () => {
    const { trail, registry } = setup({ maxPending: 3 }, () => new Promise(() => undefined));
    for (let i = 0; i < 10; i++) trail.record({ actor: 'x', action: 'http.post', outcome: 'success', details: {} });
    expect(await registry.getSingleMetricAsString('headroom_audit_events_failed_total')).toContain('reason="overflow"} 7');
  });

  it('audits refusals one by one within a source budget, then sums the rest into one summary', async () => {
    const { trail, events, registry, settle, advance } = setup({ budget: { perSourceRate: 10, perSourceBurst: 50, globalRate: 100, globalBurst: 500 } });
    for (let i = 0; i < 1_000; i++) trail.denied({ method: 'POST', url: '/v1/tenants?token=hunter2', ip: '10.0.0.1' }, 'no_credential');
    advance(1_000); // one second: ten more tokens for this source
    for (let i = 0; i < 20; i++) trail.denied({ method: 'POST', url: '/v1/tenants', ip: '10.0.0.1' }, 'no_credential');
    trail.flush();
    await settle();
    const single = events.filter((e) => e.action === 'auth.denied');
    expect(single).toHaveLength(60);
    expect(single[0]).toMatchObject({ actor: 'anonymous', outcome: 'denied', target: 'POST /v1/tenants', details: { reason: 'no_credential', source: '10.0.0.1' } });
    expect(JSON.stringify(events)).not.toContain('hunter2');
    const summaries = events.filter((e) => e.action === 'auth.denied_suppressed');
    expect(summaries).toHaveLength(1);
    expect(summaries[0].details).toMatchObject({ suppressed: 960, sources: 1, topSource: '10.0.0.1', topSourceSuppressed: 960 });
    expect(await registry.getSingleMetricAsString('headroom_audit_denied_suppressed_total')).toContain(' 960');
  });

  it('bounds a flood from many sources by the global budget, and keeps the actor and tenant of an authenticated refusal', async () => {
    const { trail, events, settle } = setup({ budget: { globalBurst: 100, globalRate: 10 } });
    trail.denied({ method: 'DELETE', url: '/v1/silences/1', ip: '10.9.9.9' }, 'role_too_weak', { actor: 'person:ann', tenant: 'nova' });
    for (let i = 0; i < 5_000; i++) trail.denied({ method: 'POST', url: '/v1/tenants', ip: `10.1.${i >> 8}.${i & 255}` }, 'no_credential');
    trail.flush();
    trail.flush(); // nothing new: no second summary
    await settle();
    expect(events[0]).toMatchObject({ actor: 'person:ann', tenant: 'nova', action: 'auth.denied', details: { reason: 'role_too_weak' } });
    expect(events.filter((e) => e.action === 'auth.denied')).toHaveLength(100);
    const summaries = events.filter((e) => e.action === 'auth.denied_suppressed');
    expect(summaries).toHaveLength(1);
    expect(summaries[0].details).toMatchObject({ suppressed: 4_901, sources: 4_901 });
  });

  it('emits the summary by itself after the interval', async () => {
    jest.useFakeTimers();
    try {
      const { trail, events } = setup({ budget: { perSourceBurst: 1, summaryIntervalMs: 10_000 } });
      for (let i = 0; i < 5; i++) trail.denied({ method: 'POST', url: '/x', ip: '10.0.0.1' }, 'no_credential');
      await jest.advanceTimersByTimeAsync(9_999);
      expect(events.filter((e) => e.action === 'auth.denied_suppressed')).toHaveLength(0);
      await jest.advanceTimersByTimeAsync(1);
      expect(events.filter((e) => e.action === 'auth.denied_suppressed').map((e) => e.details['suppressed'])).toEqual([4]);
    } finally {
      jest.useRealTimers();
    }
  });
});
