import { AggregateBatchMessage, ControlRecordMessage, Headers, TelemetryBatchMessage, Topics } from '@headroom/contracts';
import { createWrappedKey, KeyEncryptionKey, TenantKeyring } from '@headroom/crypto';
import { CODEC_PLAIN, decodeRecord, encodeRecord } from './codec';
import { ContractViolationError } from './errors';
import { recordKey, tenantOfKey } from './partitioning';

const kek = KeyEncryptionKey.generate();
const keyring = new TenantKeyring(kek);
keyring.add(createWrappedKey(kek, 'label-a', 'data', 1));
keyring.add(createWrappedKey(kek, 'label-b', 'data', 1));
const accepted = new Set([TelemetryBatchMessage.id, ControlRecordMessage.id]);
const batch = { batchId: 'b1', source: 'http', receivedAt: Date.now(), points: [{ name: 'api_latency_ms', labels: {}, value: 300, timestamp: Date.now() }], events: [] };
const topic = Topics.telemetry.name;

function sealedForA() {
  return encodeRecord(TelemetryBatchMessage, batch, { key: 'label-a', tenant: 'label-a', keyring });
}

describe('record codec', () => {
  it('round-trips a tenant batch, sealed so the payload is not readable on the wire', () => {
    const rec = sealedForA();
    expect(rec.value!.toString('latin1')).not.toContain('api_latency_ms');
    expect(rec.headers[Headers.tenant]).toBe('label-a');
    expect(rec.headers[Headers.keyVersion]).toBe('1');
    expect(rec.headers[Headers.traceparent]).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    const out = decodeRecord(topic, rec.key, rec.value, rec.headers, accepted, keyring);
    expect(out).toMatchObject({ ok: true, tenant: 'label-a', value: batch });
  });

  it('refuses to produce an invalid payload, naming the field', () => {
    expect(() => encodeRecord(TelemetryBatchMessage, { ...batch, points: [{ ...batch.points[0], value: 'x' }] }, { key: 'label-a', tenant: 'label-a', keyring })).toThrow(
      ContractViolationError,
    );
    try {
      encodeRecord(TelemetryBatchMessage, { ...batch, points: [{ ...batch.points[0], value: 'x' }] }, { key: 'label-a', tenant: 'label-a', keyring });
    } catch (e) {
      expect((e as ContractViolationError).issues[0].path).toBe('points.0.value');
    }
  });

  it("rejects a record re-labelled to claim another tenant (header and key), as an integrity failure", () => {
    const rec = sealedForA();
    const forged = { ...rec.headers, [Headers.tenant]: 'label-b' };
    const out = decodeRecord(topic, 'label-b', rec.value, forged, accepted, keyring);
    expect(out).toMatchObject({ ok: false, retriable: false, code: 'integrity' });
  });

  it('rejects a key that does not match the tenant header', () => {
    const rec = sealedForA();
    expect(decodeRecord(topic, 'label-b', rec.value, rec.headers, accepted, keyring)).toMatchObject({ ok: false, code: 'tenant_mismatch' });
  });

  it('rejects plaintext tenant data even when it is valid JSON for the schema', () => {
    const headers = { [Headers.schema]: TelemetryBatchMessage.id, [Headers.tenant]: 'label-b', [Headers.codec]: CODEC_PLAIN, [Headers.keyVersion]: 'none' };
    expect(decodeRecord(topic, 'label-b', Buffer.from(JSON.stringify(batch)), headers, accepted, keyring)).toMatchObject({ ok: false, code: 'codec' });
  });

  it('rejects a schema it does not accept, or one on the wrong topic', () => {
    const rec = encodeRecord(AggregateBatchMessage, { windows: [{ series: { name: 'x', labels: {} }, seriesId: 's', windowStart: Date.now(), windowMs: 10_000, count: 1, sum: 1, min: 1, max: 1, p50: 1, p95: 1, p99: 1 }] }, { key: 'label-a', tenant: 'label-a', keyring });
    expect(decodeRecord(Topics.aggregates.name, rec.key, rec.value, rec.headers, accepted, keyring)).toMatchObject({ ok: false, code: 'unknown_schema' });
    const tel = sealedForA();
    expect(decodeRecord(Topics.aggregates.name, tel.key, tel.value, tel.headers, new Set([TelemetryBatchMessage.id]), keyring)).toMatchObject({ ok: false, code: 'unknown_schema' });
  });

  it('treats a tenant whose key has not arrived yet as retriable', () => {
    const other = new TenantKeyring(kek);
    const rec = sealedForA();
    expect(decodeRecord(topic, rec.key, rec.value, rec.headers, accepted, other)).toMatchObject({ ok: false, retriable: true, code: 'unknown_key' });
  });

  it('carries control records in plain JSON, and tombstones', () => {
    const rec = encodeRecord(ControlRecordMessage, null, { key: 'tenant/x' });
    expect(decodeRecord(Topics.control.name, rec.key, rec.value, rec.headers, accepted, undefined)).toMatchObject({ ok: true, value: null });
  });
});

describe('tenant partitioning', () => {
  it('keys by tenant, and by tenant#k for sharded tenants with a stable k per series', () => {
    expect(recordKey('label-a')).toBe('label-a');
    const k1 = recordKey('label-a', 4, 'api_latency_ms{route="/a"}');
    expect(k1).toMatch(/^label-a#[0-3]$/);
    expect(recordKey('label-a', 4, 'api_latency_ms{route="/a"}')).toBe(k1);
    const shards = new Set(Array.from({ length: 64 }, (_, i) => recordKey('label-a', 4, `s${i}`)));
    expect(shards.size).toBe(4);
    expect(tenantOfKey(k1)).toBe('label-a');
    expect(tenantOfKey('label-a#x')).toBeUndefined();
  });
});
