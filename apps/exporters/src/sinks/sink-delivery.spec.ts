import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AggregateWindow } from '@headroom/contracts';
import { PermanentError } from '@headroom/kafka';
import { createLogger } from '@headroom/runtime';
import { expectEventually } from '@headroom/testing';
import { SinkRejectedError, SinkUnavailableError, type ExportSink } from './sink';
import { backoffDelay, SinkDelivery, SinkStillUnavailableError, type DeliveryPolicy } from './sink-delivery';

const W: AggregateWindow = { series: { name: 'm', labels: {} }, seriesId: 'm', windowStart: Date.UTC(2026, 0, 1), windowMs: 10_000, count: 1, sum: 1, min: 1, max: 1, p50: 1, p95: 1, p99: 1 };
const policy: DeliveryPolicy = { baseBackoffMs: 5, maxBackoffMs: 20, breakerFailures: 3, holdMs: 500 };

/** An outcome: throw this error, succeed (undefined), or wait for this promise and succeed. */
type Outcome = Error | undefined | Promise<void>;

function setup(outcomes: Outcome[], opts: { tenants?: Set<string>; policy?: DeliveryPolicy } = {}) {
  const registry = new Registry();
  const metrics = {
    points: new Counter({ name: 'p', help: 'h', labelNames: ['sink', 'outcome'], registers: [registry] }),
    writeSeconds: new Histogram({ name: 'w', help: 'h', labelNames: ['sink'], registers: [registry] }),
    up: new Gauge({ name: 'u', help: 'h', labelNames: ['sink'], registers: [registry] }),
  };
  const calls: string[] = [];
  const sink: ExportSink = {
    type: 'fake',
    async write(tenant) {
      calls.push(tenant);
      const next = outcomes.shift();
      if (next instanceof Promise) await next;
      else if (next) throw next;
    },
  };
  const delivery = new SinkDelivery(sink, opts.policy ?? policy, metrics, createLogger('spec', 'silent'), opts.tenants);
  const count = async (outcome: string) => (await metrics.points.get()).values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
  const up = async () => (await metrics.up.get()).values[0]?.value;
  return { delivery, calls, count, up };
}

describe('SinkDelivery', () => {
  it('retries an unavailable sink in place until it accepts, then counts the windows exported once', async () => {
    const { delivery, calls, count, up } = setup([new SinkUnavailableError('down'), new Error('socket hang up'), undefined]);
    await delivery.deliver('acme', [W, W]);
    expect(calls).toEqual(['acme', 'acme', 'acme']);
    expect(await count('exported')).toBe(2);
    expect(await count('failed')).toBe(4);
    expect(await up()).toBe(1);
  });

  it('opens the circuit after breakerFailures consecutive failures (sink_up 0) and closes it on success', async () => {
    let release!: () => void;
    const fourthAttempt = new Promise<void>((r) => (release = r));
    const { delivery, calls, count, up } = setup([...[1, 2, 3].map(() => new SinkUnavailableError('down')), fourthAttempt]);
    const done = delivery.deliver('acme', [W]);
    // The fourth attempt is in flight: three failures have opened the circuit.
    await expectEventually(() => expect(calls).toHaveLength(4));
    expect(delivery.isOpen()).toBe(true);
    expect(await up()).toBe(0);
    release();
    await done;
    expect(delivery.isOpen()).toBe(false);
    expect(await up()).toBe(1);
    expect(await count('exported')).toBe(1);
  });

  it('hands the record back (retriable, not Permanent) once it has waited holdMs, and keeps its backoff for the next call', async () => {
    const { delivery, calls } = setup(Array.from({ length: 100 }, () => new SinkUnavailableError('down')), { policy: { ...policy, holdMs: 60 } });
    const started = Date.now();
    const err = await delivery.deliver('acme', [W]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SinkStillUnavailableError);
    expect(err).not.toBeInstanceOf(PermanentError);
    expect(Date.now() - started).toBeLessThan(200);
    expect(calls.length).toBeGreaterThan(2);
    expect(delivery.isOpen()).toBe(true);
  });

  it('never waits less than Retry-After', async () => {
    const { delivery, calls } = setup([new SinkUnavailableError('slow down', 150), undefined]);
    const started = Date.now();
    await delivery.deliver('acme', [W]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(145);
    expect(calls).toHaveLength(2);
  });

  it('turns a rejection into a PermanentError carrying the sink and its code (the DLQ), counted as rejected', async () => {
    const { delivery, count } = setup([new SinkRejectedError('HTTP 400: out of order sample', 'bad_request')]);
    const err = (await delivery.deliver('acme', [W]).catch((e: unknown) => e)) as PermanentError;
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.code).toBe('sink_fake_bad_request');
    expect(err.message).toContain('out of order sample');
    expect(await count('rejected')).toBe(1);
  });

  it("skips a tenant this sink does not export, without writing", async () => {
    const { delivery, calls, count } = setup([], { tenants: new Set(['acme']) });
    await delivery.deliver('globex', [W, W, W]);
    await delivery.deliver('acme', [W]);
    expect(calls).toEqual(['acme']);
    expect(await count('skipped')).toBe(3);
  });

  it('stops waiting at once on stop(), leaving the record retriable (its offset uncommitted)', async () => {
    const { delivery } = setup(Array.from({ length: 100 }, () => new SinkUnavailableError('down')), { policy: { ...policy, baseBackoffMs: 10_000, maxBackoffMs: 10_000, holdMs: 60_000 } });
    const pending = delivery.deliver('acme', [W]).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 20));
    const started = Date.now();
    delivery.stop();
    expect(await pending).toBeInstanceOf(SinkStillUnavailableError);
    expect(Date.now() - started).toBeLessThan(100);
  });
});

describe('backoffDelay', () => {
  const p: DeliveryPolicy = { baseBackoffMs: 100, maxBackoffMs: 30_000, breakerFailures: 5, holdMs: 10_000 };
  it('doubles per failure with equal jitter, capped, never under Retry-After', () => {
    expect([1, 2, 3, 20].map((f) => backoffDelay(f, p, 0, () => 1))).toEqual([100, 200, 400, 30_000]);
    expect([1, 2, 3, 20].map((f) => backoffDelay(f, p, 0, () => 0))).toEqual([50, 100, 200, 15_000]);
    expect(backoffDelay(1, p, 45_000, () => 0)).toBe(45_000);
  });
});
