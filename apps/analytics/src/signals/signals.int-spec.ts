/**
 * The detectors in the stream, on the real Kafka and PostgreSQL: forecast, drift and outlier signals
 * for series built to trigger each (and none for a tenant whose series are quiet), and detector state
 * that survives a crash (SIGKILL) of analytics: every signal after the restart equals the one an
 * uninterrupted process gives for the same windows. Tenants are made by publishing control records;
 * telemetry is sealed with this file's own keyring under a fresh KEK (no other analytics can read it).
 */
import { randomBytes } from 'node:crypto';
import { Pool } from 'pg';
import {
  ControlRecordMessage,
  controlKey,
  Headers,
  SignalBatchMessage,
  TelemetryBatchMessage,
  Topics,
  type ControlRecord,
  type DetectorSettingInput,
  type MetricPoint,
  type PlatformEvent,
  type Signal,
  type SignalBatch,
} from '@headroom/contracts';
import { createWrappedKey, KeyEncryptionKey, TenantKeyring } from '@headroom/crypto';
import { createKafkaClient, decodeRecord, readRawRecords, RecordPublisher, type RawRecord } from '@headroom/kafka';
import { expectEventually, localSecrets, serviceEnv, ServiceProcess, silentLogger, testInfra, uniqueId, controlTrust } from '@headroom/testing';

const run = randomBytes(3).toString('hex');
const groupPrefix = `signals-int-${run}`;
const secrets = { ...localSecrets(), kek: randomBytes(32).toString('base64') };
const kek = KeyEncryptionKey.fromBase64(secrets.kek);
const keyring = new TenantKeyring(kek);
const infra = testInfra();
const kafka = createKafkaClient({ brokers: infra.brokers, clientId: groupPrefix, logger: silentLogger() });
const controlPublisher = new RecordPublisher(kafka, undefined, undefined, { signer: controlTrust().signer });
const telemetryPublisher = new RecordPublisher(kafka, keyring, undefined, { signer: controlTrust().signer });
const pool = new Pool({ connectionString: infra.databaseUrl, max: 2 });
const W = 10_000;

const running: ServiceProcess[] = [];
async function analytics(name: string, port: number, env: Record<string, string> = {}): Promise<ServiceProcess> {
  const base = serviceEnv('analytics', secrets, { slackApiUrl: 'http://127.0.0.1:1/api/', groupPrefix });
  const p = new ServiceProcess('analytics', port, { ...base, ANALYTICS_GROUP_ID: `${groupPrefix}-${name}`, ...env }, `${groupPrefix}-${name}`);
  running.push(p);
  await p.start(90_000);
  return p;
}

async function makeTenant(tenant: string, detectors: DetectorSettingInput[]): Promise<void> {
  const at = new Date().toISOString();
  const wrapped = createWrappedKey(kek, tenant, 'data', 1);
  keyring.add(wrapped);
  const records = [
    // History starts over an hour back: older than the default maxSampleAgeMs, so raised.
    { kind: 'tenant', tenant, displayName: tenant, status: 'active', shards: 1, locale: 'en', createdAt: at, limits: { maxSampleAgeMs: 3 * 3600_000 }, detectors },
    { kind: 'data_key', ...wrapped, state: 'active' },
  ] as ControlRecord[];
  await controlPublisher.publish(ControlRecordMessage, records.map((r) => ({ key: controlKey(r), value: r })));
}

async function send(tenant: string, points: MetricPoint[], events: PlatformEvent[] = []): Promise<void> {
  await telemetryPublisher.publish(TelemetryBatchMessage, [{ tenant, value: { batchId: randomBytes(8).toString('hex'), source: 'signals-int-spec', receivedAt: Date.now(), points, events } }]);
}

/** The tenant's signals on headroom.signals.v1 so far, each record opened with the tenant's own key. */
function signalsOf(records: RawRecord[], tenant: string): Signal[] {
  const accepted = new Map([[SignalBatchMessage.id, SignalBatchMessage]]);
  return records
    .filter((r) => r.headers[Headers.tenant] === tenant)
    .flatMap((r) => {
      const d = decodeRecord(r.topic, r.key, r.value, r.headers, accepted, keyring);
      if (!d.ok) throw new Error(`${d.code}: ${d.reason}`);
      return (d.value as SignalBatch).signals;
    });
}

async function waitForSignals(tenant: string, done: (signals: Signal[]) => boolean, timeoutMs = 90_000): Promise<Signal[]> {
  const records = await readRawRecords(kafka, Topics.signals.name, { until: (rs) => done(signalsOf(rs, tenant)), timeoutMs });
  return signalsOf(records, tenant);
}

async function storedWindows(tenant: string): Promise<number> {
  const { rows } = await pool.query<{ n: string }>('select count(*) as n from analytics.windows_10s where tenant = $1', [tenant]);
  return Number(rows[0].n);
}

async function stateRows(tenant: string): Promise<{ detector: string; series_id: string; state: { fedUntil: number } }[]> {
  const { rows } = await pool.query('select detector, series_id, state from analytics.detector_state where tenant = $1', [tenant]);
  return rows;
}

let seed = 17;
const noise = () => ((seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5) * 10;
const point = (name: string, value: number, timestamp: number, labels: Record<string, string> = {}): MetricPoint => ({ name, labels, value, timestamp, ...(name.endsWith('_ms') ? { unit: 'ms' } : {}) });

beforeAll(async () => {
  await controlPublisher.connect();
  await telemetryPublisher.connect();
}, 60_000);

afterAll(async () => {
  await Promise.all(running.map((p) => p.kill()));
  await controlPublisher.disconnect();
  await telemetryPublisher.disconnect();
  await pool.end();
}, 60_000);

describe('signals (analytics process, real servers)', () => {
  it('publishes forecast, drift and outlier signals for the series built to trigger each, sealed for their tenant, and none for a quiet tenant', async () => {
    const detectors: DetectorSettingInput[] = [
      { type: 'holt-winters', series: [{ metric: 'api_latency_ms', labels: { route: '/play' } }], statistic: 'p95', threshold: 250, horizonMs: 30 * 60_000, cooldownWindows: 1000 },
      { type: 'drift', series: [{ metric: 'model_inference_latency_ms' }, { metric: 'model_accuracy' }], statistic: 'mean', params: { referenceSize: 60, currentSize: 30 }, cooldownWindows: 1000 },
      {
        type: 'isolation-forest',
        series: [{ metric: 'cpu_seconds' }, { metric: 'queue_depth' }],
        statistic: 'max',
        params: { sampleSize: 128, windowSize: 512, retrainEvery: 32 },
        warmupWindows: 130,
        minScore: 0.75,
        cooldownWindows: 1000,
      },
    ];
    const P = uniqueId('sig-p');
    const Q = uniqueId('sig-q');
    await makeTenant(P, detectors);
    await makeTenant(Q, detectors);
    const p = await analytics('kinds', 5231);

    const n = 300;
    const base = Math.floor((Date.now() - 70 * 60_000) / W) * W;
    const build = (loud: boolean) => {
      const points: MetricPoint[] = [];
      const events: PlatformEvent[] = [];
      for (let i = 0; i < n; i++) {
        const t = base + i * W + 1;
        // Latency ramps up by 1 ms per window from window 200: 250 is about 10 min away by window 250.
        points.push(point('api_latency_ms', 120 + noise() / 5 + (loud && i >= 200 ? i - 200 : 0), t, { route: '/play' }));
        points.push(point('cpu_seconds', 50 + noise(), t));
        // Queue depth far off its usual range at the last window only, with cpu ordinary.
        points.push(point('queue_depth', loud && i === n - 1 ? 60 : 10 + noise() / 10, t));
        // The model gets slower and less accurate from window 200.
        const shifted = loud && i >= 200;
        events.push({ type: 'model_inference', timestamp: t, model: 'recommender', modelVersion: '7', latencyMs: (shifted ? 80 : 50) + noise(), accuracy: (shifted ? 0.8 : 0.92) + noise() / 500 });
      }
      return { points, events };
    };
    const loud = build(true);
    const quiet = build(false);
    await send(P, loud.points, loud.events);
    await send(Q, quiet.points, quiet.events);

    const kinds = (s: Signal[]) => s.map((x) => `${x.kind}:${x.series.name}`).sort();
    const signals = await waitForSignals(P, (s) => kinds(s).join() === 'drift:model_accuracy,drift:model_inference_latency_ms,forecast:api_latency_ms,outlier:queue_depth', 120_000);
    expect(kinds(signals)).toEqual(['drift:model_accuracy', 'drift:model_inference_latency_ms', 'forecast:api_latency_ms', 'outlier:queue_depth']);

    const forecast = signals.find((s) => s.kind === 'forecast')!;
    expect(forecast).toMatchObject({ detector: 'holt-winters', statistic: 'p95', series: { labels: { route: '/play' } }, forecast: { threshold: 250, direction: 'above', horizonMs: 1_800_000 } });
    expect(forecast.timestamp).toBeGreaterThan(base + 200 * W);
    expect(forecast.forecast!.crossesAt).toBeLessThanOrEqual(forecast.timestamp + 1_800_000);
    // A warning ahead of time: the true ramp reaches 250 at the end of window 330, at least 10 min after the signal.
    expect(base + 331 * W - forecast.timestamp).toBeGreaterThanOrEqual(10 * 60_000);
    expect(forecast.value).toBeLessThan(250);
    expect(forecast.forecast!.lower).toBeLessThan(forecast.forecast!.upper);
    expect(forecast.explanation).toMatch(/^p95 \S+ ms will cross 250 within 30 min/);

    for (const d of signals.filter((s) => s.kind === 'drift')) {
      expect(d).toMatchObject({ detector: 'drift', statistic: 'mean', series: { labels: { model: 'recommender', model_version: '7' } }, drift: { referenceWindows: 60, currentWindows: 30 } });
      expect(d.drift!.psi).toBeGreaterThanOrEqual(0.2);
      expect(d.drift!.pValue).toBeLessThan(0.01);
      expect(d.timestamp).toBeGreaterThan(base + 200 * W);
    }

    const outlier = signals.find((s) => s.kind === 'outlier')!;
    expect(outlier).toMatchObject({ detector: 'isolation-forest', value: 60, timestamp: base + n * W, statistic: 'max' });
    expect(outlier.score).toBeGreaterThanOrEqual(0.75);
    expect(outlier.outlier!.metrics.map((m) => m.series.name)).toEqual(['queue_depth', 'cpu_seconds']);
    expect(outlier.outlier!.metrics[0].contribution).toBeGreaterThan(0.5);

    // Q's windows are all stored (so its detectors have seen everything) and it raised nothing.
    await expectEventually(async () => expect(await storedWindows(Q)).toBe(n * 5), { timeoutMs: 60_000 });
    await expectEventually(async () => expect(await storedWindows(P)).toBe(n * 5), { timeoutMs: 60_000 });
    const all = await readRawRecords(kafka, Topics.signals.name, { until: (rs) => signalsOf(rs, P).length >= signals.length, timeoutMs: 30_000 });
    expect(signalsOf(all, Q)).toEqual([]);
    expect(await p.kill('SIGTERM')).toBe(0);
    // The clean stop saved every stream: P's units (forecast, 2 drifts, forest) and its mark.
    expect((await stateRows(P)).map((r) => r.detector.split(':')[0]).sort()).toEqual(['@stream', 'drift', 'drift', 'holt-winters', 'isolation-forest']);
  }, 300_000);

  it('keeps detector baselines across a SIGKILL: every signal after the restart equals the uninterrupted run, and erasure deletes the state', async () => {
    const detectors: DetectorSettingInput[] = [
      { type: 'seasonal', statistic: 'p95' },
      { type: 'holt-winters', series: [{ metric: 'api_latency_ms' }], statistic: 'p95', threshold: 250, cooldownWindows: 20 },
    ];
    const R = uniqueId('sig-r');
    const C = uniqueId('sig-c');
    await makeTenant(R, detectors);
    await makeTenant(C, detectors);
    const base = Math.floor((Date.now() - 80 * 60_000) / W) * W;
    const values: number[] = [];
    for (let i = 0; i < 460; i++) values.push(i === 420 ? 480 : i >= 430 ? 120 + (i - 430) * 2 + noise() / 5 : 120 + noise());
    const at = (i: number) => base + i * W + 1;
    const part1 = values.slice(0, 400).map((v, i) => point('api_latency_ms', v, at(i), { route: '/play' }));
    const part2 = values.slice(400).map((v, i) => point('api_latency_ms', v, at(400 + i), { route: '/play' }));
    const after = (s: Signal) => s.timestamp > base + 400 * W;

    // The uninterrupted run.
    const u = await analytics('uninterrupted', 5232);
    await send(R, [...part1, ...part2]);
    await expectEventually(async () => expect(await storedWindows(R)).toBe(460), { timeoutMs: 90_000 });
    const expected = (await waitForSignals(R, (s) => s.filter(after).some((x) => x.kind === 'forecast'))).filter(after);
    expect(await u.kill('SIGTERM')).toBe(0);
    expect(expected.map((s) => s.kind)).toEqual(expect.arrayContaining(['anomaly', 'forecast']));
    expect(expected.find((s) => s.kind === 'anomaly')!.value).toBe(480);

    // The interrupted run: checkpoints every 70 windows, killed with part 1 stored, restarted for part 2.
    const env = { ANALYTICS_GROUP_ID: `${groupPrefix}-crash`, DETECTOR_CHECKPOINT_WINDOWS: '70' };
    const k1 = await analytics('crash-1', 5233, env);
    await send(C, part1);
    await expectEventually(async () => {
      expect(await storedWindows(C)).toBe(400);
      expect((await stateRows(C)).length).toBeGreaterThan(0);
    }, { timeoutMs: 90_000 });
    expect(await k1.kill()).toBeNull();
    // The saved state is behind the stored windows: the restart must replay the rest from the store.
    const mark = (await stateRows(C)).find((r) => r.detector === '@stream')!.state.fedUntil;
    expect(mark).toBeLessThan(base + 399 * W);

    const k2 = await analytics('crash-2', 5233, env);
    await send(C, part2);
    const got = (await waitForSignals(C, (s) => s.filter(after).length >= expected.length)).filter(after);
    expect(got).toEqual(expected);

    // Erasure deletes the tenant's detector state.
    const erased = { kind: 'tenant_erased', tenant: C, erasedAt: new Date().toISOString() } as const;
    await controlPublisher.publish(ControlRecordMessage, [{ key: controlKey(erased), value: erased }]);
    await expectEventually(async () => expect(await stateRows(C)).toEqual([]), { timeoutMs: 30_000 });
    expect((await stateRows(R)).length).toBeGreaterThan(0);
    expect(await k2.kill('SIGTERM')).toBe(0);
  }, 400_000);
});
