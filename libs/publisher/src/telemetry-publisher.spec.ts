import { controlKey, seriesKey, validateIngestBatch, type ControlRecord, type MetricPoint, type PlatformEvent, type TelemetryBatch, type TelemetryBatchMessage, type TenantLimitOverrides } from '@headroom/contracts';
import { createWrappedKey, KeyEncryptionKey, TenantKeyring } from '@headroom/crypto';
import { recordKey, type OutgoingRecord } from '@headroom/kafka';
import { TenantDirectory } from '@headroom/tenancy';
import { expectEventually, ManualSink } from '@headroom/testing';
import { InvalidTelemetryError, PublisherClosedError, RecordAbortedError, TelemetryPublishError, TenantUnavailableError } from './errors';
import { concernsTenant, TelemetryPublisher, type TelemetryPublisherSettings } from './telemetry-publisher';

type Rec = OutgoingRecord<typeof TelemetryBatchMessage>;
const at = '2026-01-01T00:00:00Z';
const NOW = Date.UTC(2026, 5, 1, 12, 0, 0);

function directory() {
  const kek = KeyEncryptionKey.generate();
  const dir = new TenantDirectory(new TenantKeyring(kek));
  const put = (r: ControlRecord) => dir.apply(controlKey(r), r);
  const tenant = (id: string, opts: { shards?: number; limits?: TenantLimitOverrides; pseudonym?: boolean } = {}) => {
    put({ kind: 'tenant', tenant: id, displayName: id, status: 'active', shards: opts.shards ?? 1, locale: 'en', createdAt: at, ...(opts.limits ? { limits: opts.limits } : {}) });
    put({ kind: 'data_key', ...createWrappedKey(kek, id, 'data', 1), state: 'active' });
    if (opts.pseudonym !== false) put({ kind: 'data_key', ...createWrappedKey(kek, id, 'pseudonym', 1), state: 'active' });
  };
  tenant('label-a');
  return { dir, put, tenant };
}

const made: { publisher: TelemetryPublisher; sink: ManualSink<Rec> }[] = [];

function setup(settings: Partial<TelemetryPublisherSettings> = {}, sink = new ManualSink<Rec>('hold')) {
  const d = directory();
  let closed = 0;
  const publisher = new TelemetryPublisher({ tenant: 'label-a', clock: () => NOW, lingerMs: 10_000, ...settings }, d.dir, sink, async () => void closed++);
  made.push({ publisher, sink });
  return { ...d, sink, publisher, closed: () => closed };
}

// Close every publisher (no linger timer left behind), acknowledging whatever it still sends.
afterEach(async () => {
  for (const { publisher, sink } of made.splice(0)) {
    let done = false;
    const closing = publisher.close().finally(() => (done = true));
    while (!done) {
      sink.ack();
      await new Promise((r) => setTimeout(r, 1));
    }
    await closing;
  }
});

const point = (i: number, labels: Record<string, string> = { route: `/r${i % 3}` }): MetricPoint => ({ name: 'api_latency_ms', labels, value: i, timestamp: NOW - 1000 + (i % 1000) });
const points = (from: number, n: number) => Array.from({ length: n }, (_, i) => point(from + i));
const values = (records: Rec[]) => records.flatMap((r) => (r.value as TelemetryBatch).points.map((p) => p.value));
const tick = () => new Promise((r) => setImmediate(r));

describe('TelemetryPublisher: validation (the edge validator, the tenant limits, the clock)', () => {
  it('refuses a call with every problem listed by path, and buffers nothing of it', async () => {
    const { publisher, sink } = setup();
    const bad = [
      point(0),
      { name: 'api latency', labels: { le: '1' }, value: 1, timestamp: NOW },
      { name: 'ok', labels: { route: 'x' }, value: Number.NaN, timestamp: NOW - 2 * 3600_000 },
      { name: 'ok', lables: { route: 'x' }, value: 1, timestamp: NOW + 3600_000 },
    ] as unknown as MetricPoint[];
    const err = await publisher.record(bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidTelemetryError);
    const issues = (err as InvalidTelemetryError).issues;
    expect(issues.map((i) => `${i.path} ${i.reason}`)).toEqual([
      'points.1.name invalid_metric_name',
      'points.1.labels.le reserved_label_name',
      'points.2.value invalid_value',
      'points.2.timestamp sample_too_old',
      'points.3.lables invalid_point',
      'points.3.timestamp too_far_in_future',
    ]);
    // Exactly what the HTTP edge answers for the same body (same validator, limits and clock).
    expect(issues).toEqual((validateIngestBatch({ points: bad, events: [] }, { limits: publisher.limits(), now: NOW, tenant: 'label-a' }) as { issues: unknown }).issues);
    for (const i of issues) expect((err as Error).message).toContain(`${i.path}: ${i.message}`);
    expect((err as Error).message).toMatch(/^6 problems .* nothing of the call was recorded/);
    expect(publisher.stats()).toMatchObject({ bufferedPoints: 0, inFlightPoints: 0 });
    await publisher.flush();
    expect(sink.calls).toHaveLength(0);
  });

  it("applies the tenant's own limits from the control topic, live", async () => {
    const { publisher, put } = setup();
    const long = { ...point(1), labels: { route: 'x'.repeat(50) } };
    await publisher.record([long], [], { ack: 'buffered' });
    put({ kind: 'tenant', tenant: 'label-a', displayName: 'a', status: 'active', shards: 1, locale: 'en', createdAt: at, limits: { maxLabelValueLength: 20 } });
    const err = (await publisher.record([long]).catch((e: unknown) => e)) as InvalidTelemetryError;
    expect(err.issues).toEqual([expect.objectContaining({ path: 'points.0.labels.route', reason: 'label_value_too_long' })]);
    expect(err.message).toContain('maxLabelValueLength=20');
  });

  it('refuses invalid events with their path; an empty call is a no-op', async () => {
    const { publisher, sink } = setup();
    const err = (await publisher.record([], [{ type: 'song_play', timestamp: NOW, trackId: 't1', userId: 'u1', durationMs: -1 } as PlatformEvent]).catch((e: unknown) => e)) as InvalidTelemetryError;
    expect(err).toBeInstanceOf(InvalidTelemetryError);
    expect(err.issues[0].path).toBe('events.0.durationMs');
    await publisher.record([]);
    await publisher.flush();
    expect(sink.calls).toHaveLength(0);
  });
});

describe('TelemetryPublisher: sealing, batching, linger', () => {
  it('seals full batches of maxBatchPoints at once and the rest on flush, in order, as source "publisher"', async () => {
    const { publisher, sink } = setup({ maxBatchPoints: 100 });
    await publisher.record(points(0, 250), [], { ack: 'buffered' });
    expect(sink.calls.map((c) => values(c.records).length)).toEqual([100, 100]);
    expect(publisher.stats()).toMatchObject({ bufferedPoints: 50, inFlightPoints: 200 });
    const flushed = publisher.flush();
    await tick();
    expect(sink.calls.map((c) => values(c.records).length)).toEqual([100, 100, 50]);
    sink.ack();
    await flushed;
    const records = sink.acked();
    expect(values(records)).toEqual(points(0, 250).map((p) => p.value));
    for (const r of records) {
      expect(r).toMatchObject({ tenant: 'label-a', key: 'label-a' });
      expect(r.value).toMatchObject({ source: 'publisher', events: [] });
    }
    expect(new Set(records.map((r) => (r.value as TelemetryBatch).batchId)).size).toBe(3);
    expect(publisher.stats()).toMatchObject({ batchesSent: 3, pointsAcked: 250, bufferedPoints: 0, inFlightPoints: 0 });
  });

  it('seals a partial batch lingerMs after its first point, several calls in one batch', async () => {
    const { publisher, sink } = setup({ lingerMs: 40, maxBatchPoints: 1000 });
    await publisher.record(points(0, 3), [], { ack: 'buffered' });
    await publisher.record(points(3, 4), [], { ack: 'buffered' });
    expect(sink.calls).toHaveLength(0);
    await expectEventually(() => expect(sink.calls).toHaveLength(1), { timeoutMs: 1000, intervalMs: 5 });
    expect(Date.now() - sink.calls[0].at).toBeLessThan(1000);
    expect(values(sink.calls[0].records)).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('record() resolves only once Kafka acknowledged (ack "kafka"), with "buffered" once buffered', async () => {
    const { publisher, sink } = setup({ lingerMs: 0 });
    let done = false;
    const durable = publisher.record(points(0, 5)).then(() => (done = true));
    await tick();
    expect(sink.calls).toHaveLength(1);
    expect(done).toBe(false);
    sink.ack();
    await durable;
    expect(done).toBe(true);
  });

  it('pseudonymises user ids with the tenant key exactly as the edge does; other events untouched', async () => {
    const { publisher, sink, dir, tenant } = setup({ lingerMs: 0 });
    tenant('label-b');
    const events: PlatformEvent[] = [
      { type: 'song_play', timestamp: NOW, trackId: 'trk-1', userId: 'alice@example.com', durationMs: 180_000 },
      { type: 'failed_login', timestamp: NOW, userId: 'bob', reason: 'bad_password' },
      { type: 'revenue', timestamp: NOW, amount: 1.5, currency: 'EUR', source: 'stream' },
    ];
    const recording = publisher.record([point(1)], events);
    await tick();
    sink.ack();
    await recording;
    const sent = (sink.acked()[0].value as TelemetryBatch).events;
    expect(sent[0]).toMatchObject({ type: 'song_play', userId: dir.keyring.pseudonymise('label-a', 'alice@example.com') });
    expect(sent[1]).toMatchObject({ type: 'failed_login', userId: dir.keyring.pseudonymise('label-a', 'bob') });
    expect((sent[0] as { userId: string }).userId).toMatch(/^u_/);
    expect((sent[0] as { userId: string }).userId).not.toBe(dir.keyring.pseudonymise('label-b', 'alice@example.com'));
    expect(sent[2]).toEqual(events[2]);
  });

  it('keys a sharded tenant by series (tenant#k) and events on the events shard, like the edge', async () => {
    const { dir, tenant } = directory();
    tenant('label-s', { shards: 4 });
    const sink = new ManualSink<Rec>('hold');
    const publisher = new TelemetryPublisher({ tenant: 'label-s', clock: () => NOW, lingerMs: 0 }, dir, sink);
    const pts = Array.from({ length: 40 }, (_, i) => point(i, { route: `/r${i}` }));
    const recording = publisher.record(pts, [{ type: 'revenue', timestamp: NOW, amount: 1, currency: 'EUR', source: 'ad' }]);
    await tick();
    sink.ack();
    await recording;
    const records = sink.acked();
    expect(records.length).toBeGreaterThan(1);
    for (const r of records) {
      for (const p of (r.value as TelemetryBatch).points) expect(r.key).toBe(recordKey('label-s', 4, seriesKey(p.name, p.labels)));
      if ((r.value as TelemetryBatch).events.length) expect(r.key).toBe(recordKey('label-s', 4, 'events'));
    }
    expect(values(records).sort((a, b) => a - b)).toEqual(pts.map((p) => p.value));
  });
});

describe('TelemetryPublisher: back-pressure, flush, failures, close', () => {
  it('never holds more than maxBufferedPoints: record() waits (FIFO) until batches are acknowledged', async () => {
    const { publisher, sink } = setup({ maxBatchPoints: 10, maxBufferedPoints: 30, lingerMs: 0 });
    for (let i = 0; i < 3; i++) await publisher.record(points(i * 10, 10), [], { ack: 'buffered' });
    expect(publisher.stats()).toMatchObject({ inFlightPoints: 30, waitingCalls: 0 });
    let fourth = false;
    let fifth = false;
    const p4 = publisher.record(points(30, 10), [], { ack: 'buffered' }).then(() => (fourth = true));
    const p5 = publisher.record(points(40, 1), [], { ack: 'buffered' }).then(() => (fifth = true));
    await tick();
    expect({ fourth, fifth, waiting: publisher.stats().waitingCalls }).toEqual({ fourth: false, fifth: false, waiting: 2 });
    sink.ack(1);
    await p4;
    await tick();
    // The 1-point call fits too once the 10-point one before it got in (30 outstanding again: no).
    expect(fifth).toBe(false);
    expect(publisher.stats().inFlightPoints).toBe(30);
    sink.ack(1);
    await p5;
    sink.ack();
    await publisher.flush();
    sink.ack();
    expect(values(sink.acked())).toEqual(points(0, 41).map((p) => p.value));
  });

  it('with a slow producer, many concurrent callers stay under the bound and every point arrives once, in order', async () => {
    const sink = new ManualSink<Rec>({ delayMs: 5 });
    const { publisher } = setup({ maxBatchPoints: 50, maxBufferedPoints: 200, lingerMs: 2 }, sink);
    let maxOutstanding = 0;
    sink.onPublish = () => {
      const s = publisher.stats();
      maxOutstanding = Math.max(maxOutstanding, s.bufferedPoints + s.inFlightPoints);
    };
    const calls = Array.from({ length: 100 }, (_, i) => publisher.record(points(i * 20, 20)));
    await Promise.all(calls);
    await publisher.flush();
    expect(maxOutstanding).toBeLessThanOrEqual(200);
    expect(values(sink.acked())).toEqual(points(0, 2000).map((p) => p.value));
    expect(publisher.stats()).toMatchObject({ pointsAcked: 2000, bufferedPoints: 0, inFlightPoints: 0, waitingCalls: 0 });
  });

  it('a call larger than maxBufferedPoints goes through alone instead of waiting forever', async () => {
    const sink = new ManualSink<Rec>({ delayMs: 1 });
    const { publisher } = setup({ maxBatchPoints: 10, maxBufferedPoints: 20, lingerMs: 0 }, sink);
    await publisher.record(points(0, 5));
    await publisher.record(points(5, 55));
    expect(values(sink.acked())).toHaveLength(60);
  });

  it('a waiting call can be aborted: nothing of it is recorded', async () => {
    const { publisher, sink } = setup({ maxBatchPoints: 10, maxBufferedPoints: 10, lingerMs: 0 });
    await publisher.record(points(0, 10), [], { ack: 'buffered' });
    const abort = new AbortController();
    const waiting = publisher.record(points(10, 10), [], { signal: abort.signal });
    await tick();
    abort.abort();
    await expect(waiting).rejects.toBeInstanceOf(RecordAbortedError);
    sink.ack();
    await publisher.flush();
    expect(values(sink.acked())).toEqual(points(0, 10).map((p) => p.value));
  });

  it('a batch Kafka did not acknowledge fails its calls, onError and flush() (with counts)', async () => {
    const errors: TelemetryPublishError[] = [];
    const { publisher, sink } = setup({ lingerMs: 0, onError: (e) => errors.push(e) });
    const durable = publisher.record(points(0, 7));
    await publisher.record(points(7, 3), [], { ack: 'buffered' });
    const flushed = publisher.flush();
    sink.fail(new Error('broker gone'));
    const err = (await durable.catch((e: unknown) => e)) as TelemetryPublishError;
    expect(err).toBeInstanceOf(TelemetryPublishError);
    expect(err.message).toMatch(/7 points.*broker gone/);
    await expect(flushed).rejects.toBeInstanceOf(AggregateError);
    expect(errors.map((e) => e.points).sort()).toEqual([3, 7]);
    expect(publisher.stats()).toMatchObject({ batchesFailed: 2, pointsFailed: 10, inFlightPoints: 0 });
    // The publisher keeps working after a failure.
    const again = publisher.record(points(10, 1));
    await tick();
    sink.ack();
    await again;
  });

  it('close() refuses new calls, flushes what was recorded (waiting calls included), then disconnects', async () => {
    const { publisher, sink, closed } = setup({ maxBatchPoints: 10, maxBufferedPoints: 10 });
    await publisher.record(points(0, 4), [], { ack: 'buffered' });
    const waiting = publisher.record(points(4, 10), [], { ack: 'buffered' });
    const closing = publisher.close();
    await expect(publisher.record(points(99, 1))).rejects.toBeInstanceOf(PublisherClosedError);
    while (closed() === 0) {
      sink.ack();
      await tick();
    }
    await closing;
    await waiting;
    expect(values(sink.acked())).toEqual(points(0, 14).map((p) => p.value));
    expect(closed()).toBe(1);
  });

  it('refuses an unknown, erased or suspended tenant, and one without a pseudonym key for user ids', async () => {
    const { dir, put, tenant } = directory();
    const sink = new ManualSink<Rec>('hold');
    const forTenant = (t: string) => new TelemetryPublisher({ tenant: t, clock: () => NOW, lingerMs: 0 }, dir, sink);
    await expect(forTenant('nobody').record([point(1)])).rejects.toMatchObject({ code: 'unknown_tenant' });
    tenant('label-x', { pseudonym: false });
    const x = forTenant('label-x');
    await expect(x.record([], [{ type: 'failed_login', timestamp: NOW, userId: 'u', reason: 'locked' }])).rejects.toMatchObject({ code: 'no_pseudonym_key' });
    put({ kind: 'tenant', tenant: 'label-x', displayName: 'x', status: 'suspended', shards: 1, locale: 'en', createdAt: at });
    await expect(x.record([point(1)])).rejects.toMatchObject({ code: 'tenant_suspended' });
    put({ kind: 'tenant_erased', tenant: 'label-x', erasedAt: at });
    const err = await x.record([point(1)]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TenantUnavailableError);
    expect((err as Error).message).toMatch(/label-x was erased/);
    expect(sink.calls).toHaveLength(0);
  });

  it('checks its settings', () => {
    const { dir } = directory();
    const sink = new ManualSink<Rec>();
    expect(() => new TelemetryPublisher({ tenant: 'label-a', maxBatchPoints: 20_000 }, dir, sink)).toThrow(/maxBatchPoints/);
    expect(() => new TelemetryPublisher({ tenant: 'label-a', maxBatchPoints: 100, maxBufferedPoints: 50 }, dir, sink)).toThrow(/maxBufferedPoints/);
  });
});

describe('concernsTenant (what connect() applies from the control topic)', () => {
  it("keeps the tenant's own records and tombstones, never another tenant's or API keys", () => {
    const kek = KeyEncryptionKey.generate();
    const own: ControlRecord[] = [
      { kind: 'tenant', tenant: 'label-a', displayName: 'a', status: 'active', shards: 1, locale: 'en', createdAt: at },
      { kind: 'data_key', ...createWrappedKey(kek, 'label-a', 'data', 1), state: 'active' },
      { kind: 'tenant_erased', tenant: 'label-a', erasedAt: at },
    ];
    for (const r of own) expect(concernsTenant('label-a', controlKey(r), r)).toBe(true);
    const other: ControlRecord = { kind: 'data_key', ...createWrappedKey(kek, 'label-ab', 'data', 1), state: 'active' };
    expect(concernsTenant('label-a', controlKey(other), other)).toBe(false);
    const apiKey: ControlRecord = { kind: 'api_key', keyId: 'abcdef0123', tenant: 'label-a', secretHash: 'a'.repeat(64), scopes: ['ingest'], createdAt: at };
    expect(concernsTenant('label-a', controlKey(apiKey), apiKey)).toBe(false);
    expect(concernsTenant('label-a', 'tenant/label-a', null)).toBe(true);
    expect(concernsTenant('label-a', 'data_key/label-a/data/1', null)).toBe(true);
    expect(concernsTenant('label-a', 'data_key/label-ab/data/1', null)).toBe(false);
    expect(concernsTenant('label-a', null, null)).toBe(false);
  });
});
