import { gunzipSync } from 'node:zlib';
import { Headers, TelemetryBatchMessage, TelemetryBatchSchema, Topics, type TelemetryBatch } from '@headroom/contracts';
import { TenantKeyring, type KeyEncryptionKey } from '@headroom/crypto';
import { CODEC_SEALED, CODEC_SEALED_UNCOMPRESSED, readRawRecords, type KafkaClient, type RawRecord } from '@headroom/kafka';
import { TenantDirectory } from '@headroom/tenancy';

/**
 * What a service would know of `tenants` from the control topic (their keys unwrapped with `kek`),
 * read until each has its pseudonym key: the other runs' tenants, made under other KEKs, are skipped.
 */
export async function tenantDirectoryFor(kafka: KafkaClient, kek: KeyEncryptionKey, tenants: string[], timeoutMs = 30_000): Promise<TenantDirectory> {
  const mine = (r: RawRecord) => r.key !== null && tenants.includes(r.key.split('/')[1]);
  const ready = (rs: RawRecord[]) => tenants.every((t) => rs.some((r) => r.key === `data_key/${t}/pseudonym/1`));
  const records = await readRawRecords(kafka, Topics.control.name, { filter: mine, until: ready, timeoutMs });
  if (!ready(records)) throw new Error(`the control topic did not carry the keys of ${tenants.join(', ')} within ${timeoutMs} ms`);
  const directory = new TenantDirectory(new TenantKeyring(kek));
  for (const r of records) directory.apply(r.key, r.value === null ? null : JSON.parse(r.value.toString('utf8')));
  return directory;
}

/**
 * Opens a telemetry record as a consumer would, with the keys of `tenant` (by default the one its
 * header names): decrypt (AAD: tenant, topic, schema), inflate, parse. Throws if that tenant's key
 * cannot open it, which is what isolation tests assert.
 */
export function openTelemetryRecord(directory: TenantDirectory, r: RawRecord, tenant = r.headers[Headers.tenant]): TelemetryBatch {
  const codec = r.headers[Headers.codec];
  if (codec !== CODEC_SEALED && codec !== CODEC_SEALED_UNCOMPRESSED) throw new Error(`telemetry record with codec ${codec ?? '(none)'}: not sealed`);
  const plain = directory.keyring.decrypt({ tenant, topic: Topics.telemetry.name, schema: TelemetryBatchMessage.id }, Number(r.headers[Headers.keyVersion]), r.value!);
  const json = codec === CODEC_SEALED ? gunzipSync(plain) : plain;
  return TelemetryBatchSchema.parse(JSON.parse(json.toString('utf8')));
}
