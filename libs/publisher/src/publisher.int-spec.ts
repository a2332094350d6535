/**
 * The publisher library on the real broker: tenants put on the control topic as control does
 * (tenant record + data and pseudonym keys wrapped under the local KEK), points published through
 * TelemetryPublisher, then read back from headroom.telemetry.v1 as bytes and decoded with the
 * tenant's keyring — every point once, sealed under the tenant's key, user ids pseudonymised; an
 * invalid point refused with its path and absent from the topic; another tenant's keys decrypt nothing.
 */
import { randomBytes } from 'node:crypto';
import {
  ControlRecordMessage,
  controlKey,
  Headers,
  TelemetryBatchMessage,
  Topics,
  type ControlRecord,
  type MetricPoint,
  type PlatformEvent,
  type TelemetryBatch,
  type TenantLimitOverrides,
} from '@headroom/contracts';
import { createWrappedKey, KeyEncryptionKey, TenantKeyring } from '@headroom/crypto';
import { CODEC_SEALED, createKafkaClient, decodeRecord, readRawRecords, RecordPublisher, type RawRecord } from '@headroom/kafka';
import { localSecrets, silentLogger, testInfra, controlTrust } from '@headroom/testing';
import { InvalidTelemetryError, TenantUnavailableError } from './errors';
import { TelemetryPublisher, type TelemetryPublisherOptions } from './telemetry-publisher';

const run = randomBytes(3).toString('hex');
const secrets = localSecrets();
const kek = KeyEncryptionKey.fromBase64(secrets.kek);
const infra = testInfra();
const kafka = createKafkaClient({ brokers: infra.brokers, clientId: `publisher-int-${run}`, logger: silentLogger() });
const controlPublisher = new RecordPublisher(kafka, undefined, undefined, { signer: controlTrust().signer });
const tenantA = `pub-a-${run}`;
const tenantB = `pub-b-${run}`;
/** Holds only the keys this spec made: each tenant's own keyring. */
const keyringA = new TenantKeyring(kek);
const keyringB = new TenantKeyring(kek);

async function makeTenant(tenant: string, keyring: TenantKeyring, limits?: TenantLimitOverrides): Promise<void> {
  const at = new Date().toISOString();
  const data = createWrappedKey(kek, tenant, 'data', 1);
  const pseudonym = createWrappedKey(kek, tenant, 'pseudonym', 1);
  keyring.add(data);
  keyring.add(pseudonym);
  const records: ControlRecord[] = [
    { kind: 'tenant', tenant, displayName: tenant, status: 'active', shards: 1, locale: 'en', createdAt: at, ...(limits ? { limits } : {}) },
    { kind: 'data_key', ...data, state: 'active' },
    { kind: 'data_key', ...pseudonym, state: 'active' },
  ];
  await controlPublisher.publish(ControlRecordMessage, records.map((r) => ({ key: controlKey(r), value: r })));
}

const options = (tenant: string, extra: Partial<TelemetryPublisherOptions> = {}): TelemetryPublisherOptions => ({
  brokers: infra.brokers,
  kekBase64: secrets.kek,
  controlPublicKeys: secrets.controlPublicKey,
  kekId: 'kek-1',
  tenant,
  clientId: `publisher-int-${run}`,
  logger: silentLogger(),
  ...extra,
});

const N = 5_000;
const now = Date.now();
const pointAt = (i: number): MetricPoint => ({ name: 'api_latency_ms', labels: { route: `/r${i % 7}`, run }, value: i, timestamp: now - (i % 60_000), unit: 'ms' });
const users = ['alice@example.com', 'bob', 'carol-42'];
const events: PlatformEvent[] = users.map((userId, i) => ({ type: 'song_play', timestamp: now, trackId: `trk-${i}`, userId, durationMs: 1000 * (i + 1) }));

let records: RawRecord[] = [];

beforeAll(async () => {
  await controlPublisher.connect();
  await makeTenant(tenantA, keyringA, { maxLabelValueLength: 64 });
  await makeTenant(tenantB, keyringB);
}, 60_000);

afterAll(async () => {
  await controlPublisher.disconnect();
});

describe('TelemetryPublisher on the real broker', () => {
  it(`publishes ${N} points (and events) sealed for the tenant, every one once, user ids pseudonymised`, async () => {
    const t0 = Date.now();
    const publisher = await TelemetryPublisher.connect(options(tenantA, { maxBatchPoints: 500, lingerMs: 20, maxBufferedPoints: 2_000 }));
    const connectMs = Date.now() - t0;
    try {
      expect(publisher.limits().maxLabelValueLength).toBe(64);

      // An invalid point is refused with its path, and nothing of its call reaches Kafka.
      const refused = await publisher.record([pointAt(-1), { ...pointAt(-2), labels: { le: '0.5' } }]).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(InvalidTelemetryError);
      expect((refused as InvalidTelemetryError).issues).toEqual([expect.objectContaining({ path: 'points.1.labels.le', reason: 'reserved_label_name' })]);
      const tooLong = (await publisher.record([{ ...pointAt(-3), labels: { route: 'x'.repeat(65) } }]).catch((e: unknown) => e)) as InvalidTelemetryError;
      expect(tooLong.issues).toEqual([expect.objectContaining({ path: 'points.0.labels.route', reason: 'label_value_too_long' })]);

      const started = Date.now();
      const calls: Promise<void>[] = [];
      for (let i = 0; i < N; i += 100) {
        const pts = Array.from({ length: 100 }, (_, k) => pointAt(i + k));
        // Half the calls wait for Kafka's ack, half only for the buffer: flush() covers both.
        calls.push(publisher.record(pts, i === 0 ? events : [], { ack: (i / 100) % 2 ? 'buffered' : 'kafka' }));
      }
      await Promise.all(calls);
      await publisher.flush();
      const seconds = (Date.now() - started) / 1000;
      const stats = publisher.stats();
      expect(stats).toMatchObject({ pointsAcked: N, eventsAcked: events.length, batchesFailed: 0, bufferedPoints: 0, inFlightPoints: 0 });
      // Printed for the issue's benchmark, not asserted (shared 2-core machine).
      console.log(JSON.stringify({ publisherIntSpec: { points: N, seconds, pointsPerSecond: Math.round(N / seconds), batches: stats.batchesSent, connectMs } }));
    } finally {
      await publisher.close();
    }

    let pointsRead = 0;
    records = await readRawRecords(kafka, Topics.telemetry.name, {
      filter: (r) => r.headers[Headers.tenant] === tenantA && ((pointsRead += pointsIn(r)), true),
      until: () => pointsRead >= N,
      timeoutMs: 60_000,
    });
    const batches = records.map((r) => {
      expect(r.key).toBe(tenantA);
      expect(r.headers[Headers.codec]).toBe(CODEC_SEALED);
      expect(r.headers[Headers.keyVersion]).toBe('1');
      expect(r.headers[Headers.schema]).toBe(TelemetryBatchMessage.id);
      // Sealed: the plaintext of the label values is not in the bytes.
      expect(r.value!.includes(Buffer.from(`"run":"${run}"`))).toBe(false);
      const decoded = decodeRecord(r.topic, r.key, r.value, r.headers, new Set([TelemetryBatchMessage.id]), keyringA);
      if (!decoded.ok) throw new Error(`${decoded.code}: ${decoded.reason}`);
      expect(decoded.tenant).toBe(tenantA);
      return decoded.value as TelemetryBatch;
    });
    for (const b of batches) expect(b.source).toBe('publisher');
    const got = batches.flatMap((b) => b.points);
    expect(got).toHaveLength(N);
    expect(got.map((p) => p.value).sort((a, b) => a - b)).toEqual(Array.from({ length: N }, (_, i) => i));
    for (const p of got) expect(p).toEqual(pointAt(p.value));

    const sentEvents = batches.flatMap((b) => b.events) as Extract<PlatformEvent, { type: 'song_play' }>[];
    expect(sentEvents).toHaveLength(users.length);
    sentEvents.forEach((e, i) => {
      expect(e.userId).not.toBe(users[i]);
      expect(e.userId).toBe(keyringA.pseudonymise(tenantA, users[i]));
      expect(e.userId).not.toBe(keyringB.pseudonymise(tenantB, users[i]));
    });
  }, 120_000);

  it("another tenant's keys decrypt none of them, even with the record relabelled as theirs", () => {
    expect(records.length).toBeGreaterThan(0);
    for (const r of records) {
      const withB = decodeRecord(r.topic, r.key, r.value, r.headers, new Set([TelemetryBatchMessage.id]), keyringB);
      expect(withB).toMatchObject({ ok: false, code: 'unknown_key' });
      const relabelled = decodeRecord(r.topic, tenantB, r.value, { ...r.headers, [Headers.tenant]: tenantB }, new Set([TelemetryBatchMessage.id]), keyringB);
      expect(relabelled).toMatchObject({ ok: false, code: 'integrity' });
    }
  });

  it('refuses to start for an unknown or an erased tenant, with a clear error', async () => {
    const unknown = await TelemetryPublisher.connect(options(`pub-nobody-${run}`)).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(TenantUnavailableError);
    expect(unknown).toMatchObject({ code: 'unknown_tenant', message: expect.stringContaining(`unknown tenant pub-nobody-${run}`) });

    const erased: ControlRecord = { kind: 'tenant_erased', tenant: tenantB, erasedAt: new Date().toISOString() };
    await controlPublisher.publish(ControlRecordMessage, [{ key: controlKey(erased), value: erased }]);
    const err = await TelemetryPublisher.connect(options(tenantB)).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'tenant_erased', message: expect.stringContaining(`tenant ${tenantB} was erased`) });
  }, 90_000);
});

function pointsIn(r: RawRecord): number {
  const decoded = decodeRecord(r.topic, r.key, r.value, r.headers, new Set([TelemetryBatchMessage.id]), keyringA);
  return decoded.ok ? (decoded.value as TelemetryBatch).points.length : 0;
}
