import { compressSync } from 'snappy';
import { Writer } from 'protobufjs';
import { DEFAULT_POINT_LIMITS, validateIngestBatch, WriteRequestType, type PromWriteRequest } from '@headroom/contracts';
import { splitBatch } from '../receivers.controller';
import { prometheusRemoteWriteReceiver as receiver } from './prometheus-remote-write.receiver';
import { DEFAULT_REMOTE_WRITE_CONFIG, isStaleMarker, snappyUncompressedLength, toPoints } from './remote-write.decoder';

const NOW = 1_750_000_000_000;
const TENANT = 'label-x';
const limits = DEFAULT_POINT_LIMITS;

/**
 * Prometheus's staleness marker (value.StaleNaN, 0x7ff0000000000002). Written as 'stale' in the
 * tuples below: V8 stores an array of doubles with its NaNs canonicalised, losing the marker's bits.
 */
const STALE_NAN = new Float64Array(new BigUint64Array([0x7ff0000000000002n]).buffer)[0];

type Series = { labels: Record<string, string>; samples: [number | 'stale', number][] };
const series = (labels: Record<string, string>, ...samples: [number | 'stale', number][]): Series => ({ labels, samples });

function encode(all: Series[]): Buffer {
  const message = WriteRequestType.fromObject({
    timeseries: all.map((s) => ({ labels: Object.entries(s.labels).map(([name, value]) => ({ name, value })), samples: s.samples.map(([value, timestamp]) => ({ value: value === 'stale' ? STALE_NAN : value, timestamp })) })),
  });
  return compressSync(Buffer.from(WriteRequestType.encode(message).finish()));
}

async function decode(body: unknown, headers: Record<string, string> = {}, contentType = 'application/x-protobuf') {
  return receiver.decode({ body, contentType, headers: { 'content-encoding': 'snappy', ...headers }, tenant: TENANT, now: NOW, limits }, receiver.defaultConfig);
}

describe('prometheus remote_write receiver: decode', () => {
  it('decodes snappy + protobuf: __name__ is the name, other labels are labels, each sample one point', async () => {
    const body = encode([
      series({ __name__: 'up', job: 'prometheus', instance: '127.0.0.1:9090' }, [1, NOW - 2000], [0, NOW - 1000]),
      series({ __name__: 'prometheus_build_info', version: '2.42.0', goversion: 'go1.19' }, [1, NOW]),
    ]);
    const decoded = await decode(body);
    expect(decoded).toEqual({
      ok: true,
      batch: {
        events: [],
        points: [
          { name: 'up', labels: { job: 'prometheus', instance: '127.0.0.1:9090' }, value: 1, timestamp: NOW - 2000 },
          { name: 'up', labels: { job: 'prometheus', instance: '127.0.0.1:9090' }, value: 0, timestamp: NOW - 1000 },
          { name: 'prometheus_build_info', labels: { version: '2.42.0', goversion: 'go1.19' }, value: 1, timestamp: NOW },
        ],
      },
      discarded: {},
    });
    // What it hands on passes the edge's whole-batch validation.
    expect(validateIngestBatch(decoded.ok && decoded.batch, { limits, now: NOW, tenant: TENANT }).ok).toBe(true);
  });

  it('reads the wire format of the specification (field numbers and wire types written by hand)', async () => {
    const label = (name: string, value: string) => new Writer().uint32((1 << 3) | 2).string(name).uint32((2 << 3) | 2).string(value).finish();
    const sample = (value: number, ts: number) => new Writer().uint32((1 << 3) | 1).double(value).uint32((2 << 3) | 0).int64(ts).finish();
    const ts = new Writer();
    for (const l of [label('__name__', 'http_requests_total'), label('code', '200')]) ts.uint32((1 << 3) | 2).bytes(l);
    ts.uint32((2 << 3) | 2).bytes(sample(42.5, NOW));
    // An exemplar (field 3) and a histogram (field 4) are skipped.
    ts.uint32((3 << 3) | 2).bytes(new Uint8Array([1, 2, 3]));
    ts.uint32((4 << 3) | 2).bytes(new Uint8Array([]));
    const request = new Writer().uint32((1 << 3) | 2).bytes(ts.finish());
    // WriteRequest.metadata (3) is skipped too.
    request.uint32((3 << 3) | 2).bytes(new Uint8Array([8, 1]));
    const decoded = await decode(compressSync(Buffer.from(request.finish())));
    expect(decoded).toMatchObject({ ok: true, batch: { points: [{ name: 'http_requests_total', labels: { code: '200' }, value: 42.5, timestamp: NOW }] } });
  });

  it('drops and counts what the edge would refuse, keeping the good samples of the same request', async () => {
    const body = encode([
      series({ __name__: 'up', job: 'p' }, [1, NOW], ['stale', NOW]),
      series({ __name__: 'req_duration_seconds_bucket', le: '0.5', job: 'p' }, [3, NOW], [4, NOW]),
      series({ __name__: 'rpc_duration_seconds', quantile: '0.99', job: 'p' }, [0.2, NOW]),
      series({ __name__: 'req_duration_seconds_count', job: 'p' }, [4, NOW]),
      series({ __name__: 'weird', job: 'p' }, [NaN, NOW], [Infinity, NOW], [1e301, NOW]),
      series({ __name__: 'old', job: 'p' }, [1, NOW - 2 * 3_600_000], [1, NOW + 3_600_000]),
      series({ job: 'no_name' }, [1, NOW]),
      series({ __name__: 'bad-name' }, [1, NOW]),
      series({ __name__: 'long', v: 'x'.repeat(limits.maxLabelValueLength + 1) }, [1, NOW], [2, NOW]),
    ]);
    const decoded = await decode(body);
    if (!decoded.ok) throw new Error(decoded.message);
    expect(decoded.batch.points.map((p) => [p.name, p.value])).toEqual([
      ['up', 1],
      ['req_duration_seconds_count', 4],
    ]);
    expect(decoded.discarded).toEqual({
      stale_marker: 1,
      reserved_label_name: 3,
      invalid_value: 2,
      value_out_of_range: 1,
      sample_too_old: 1,
      too_far_in_future: 1,
      missing_metric_name: 1,
      invalid_metric_name: 1,
      label_value_too_long: 2,
    });
  });

  it('drops samples close to the age limit (a margin, so none turns stale before the edge checks the batch)', async () => {
    const edge = NOW - limits.maxSampleAgeMs;
    const decoded = await decode(encode([series({ __name__: 'm' }, [1, edge + 1000], [2, edge + DEFAULT_REMOTE_WRITE_CONFIG.sampleAgeMarginMs + 1000])]));
    expect(decoded).toMatchObject({ ok: true, batch: { points: [{ value: 2 }] }, discarded: { sample_too_old: 1 } });
  });

  it('removes other __ labels and empty label values (Prometheus: empty = absent); drops series with a label twice', async () => {
    const request: PromWriteRequest = {
      timeseries: [
        {
          labels: [
            { name: '__name__', value: 'm' },
            { name: '__meta_x', value: 'y' },
            { name: 'empty', value: '' },
            { name: 'a', value: '1' },
          ],
          samples: [{ value: 1, timestamp: NOW }],
        },
        {
          labels: [
            { name: '__name__', value: 'dup' },
            { name: 'a', value: '1' },
            { name: 'a', value: '2' },
          ],
          samples: [
            { value: 1, timestamp: NOW },
            { value: 2, timestamp: NOW },
          ],
        },
      ],
    };
    const out = toPoints(request, { limits, now: NOW, tenant: TENANT }, DEFAULT_REMOTE_WRITE_CONFIG);
    expect(out.points).toEqual([{ name: 'm', labels: { a: '1' }, value: 1, timestamp: NOW }]);
    expect(out.dropped).toEqual({ duplicate_label_names: 2 });
  });

  it('answers an empty (metadata-only) request with an empty batch that the controller accepts without publishing', async () => {
    const decoded = await decode(compressSync(Buffer.alloc(0)));
    expect(decoded).toEqual({ ok: true, batch: { points: [], events: [] }, discarded: {} });
    expect(splitBatch({ points: [], events: [] }, true)).toEqual([]);
    expect(splitBatch({ points: [], events: [] })).toHaveLength(1); // other receivers: the edge's 400
  });

  it('refuses undecodable bodies with 400, and other media types with 415', async () => {
    expect(await decode(Buffer.from('definitely not snappy at all'))).toMatchObject({ ok: false, status: 400, error: 'invalid_request', message: expect.stringMatching(/snappy/) });
    expect(await decode(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))).toMatchObject({ ok: false, status: 400 });
    // Valid snappy around bytes that are not a WriteRequest.
    expect(await decode(compressSync(Buffer.from([0x0a, 0x7f, 0x01])))).toMatchObject({ ok: false, status: 400, message: expect.stringMatching(/protobuf/) });
    expect(await decode(Buffer.from('x'), {}, 'application/json')).toMatchObject({ ok: false, status: 415 });
    expect(await decode({ points: [] }, {}, 'application/json')).toMatchObject({ ok: false, status: 415 });
    expect(await decode(encode([]), { 'content-encoding': 'gzip' })).toMatchObject({ ok: false, status: 415 });
  });

  it('refuses a body whose snappy preamble announces more than maxDecompressedBytes (413), before decompressing', async () => {
    const bomb = Buffer.from([0x80, 0x80, 0x80, 0x80, 0x08]); // 2^31 bytes announced
    expect(snappyUncompressedLength(bomb)).toBe(2 ** 31);
    expect(await decode(bomb)).toMatchObject({ ok: false, status: 413, error: 'payload_too_large' });
  });

  it('refuses X-Scope-OrgID naming another tenant (403); the same tenant is fine', async () => {
    const body = encode([series({ __name__: 'up' }, [1, NOW])]);
    expect(await decode(body, { 'x-scope-orgid': 'label-y' })).toMatchObject({ ok: false, status: 403, error: 'tenant_mismatch', message: expect.stringContaining('label-x') });
    expect(await decode(body, { 'x-scope-orgid': TENANT })).toMatchObject({ ok: true });
  });

  it('tells the stale marker from other NaNs', () => {
    expect(isStaleMarker(STALE_NAN)).toBe(true);
    expect(isStaleMarker(NaN)).toBe(false);
    expect(isStaleMarker(1)).toBe(false);
  });

  it('answers 204, and validates its config', () => {
    expect(receiver.respond!({ batchId: 'b', accepted: { points: 1, events: 0 } }, 'application/x-protobuf')).toEqual({ status: 204 });
    expect(receiver.validate(receiver.defaultConfig)).toEqual([]);
    expect(receiver.validate({ maxDecompressedBytes: -1, nope: 1 }).map((i) => i.path).sort()).toEqual(['maxDecompressedBytes', 'nope']);
  });
});

describe('splitBatch', () => {
  it('splits a request over the edge batch size into batches of at most 10,000 points, in order', () => {
    const points = Array.from({ length: 25_001 }, (_, i) => ({ name: 'm', labels: {}, value: i, timestamp: NOW }));
    const parts = splitBatch({ points, events: [] }, true);
    expect(parts.map((p) => p.points.length)).toEqual([10_000, 10_000, 5_001]);
    expect(parts.flatMap((p) => p.points.map((x) => x.value))).toEqual(points.map((p) => p.value));
  });
});
