import { createHash } from 'node:crypto';
import type { Kafka, ProducerRecord } from 'kafkajs';
import { z } from 'zod';
import { defineMessage, Topics } from '@headroom/contracts';
import { createWrappedKey, KeyEncryptionKey, TenantKeyring } from '@headroom/crypto';
import { decodeRecord } from './codec';
import { ContractViolationError, PermanentError, RecordTooLargeError } from './errors';
import { encodedRecordBytes, PublishAbortedError, recordByteLimit, RecordPublisher, splitArrayField } from './publisher';

// A tiny topic: 4 KiB, so a record of a few dozen items is already too large.
const topic = { name: 'headroom.publisher-spec.v1', partitions: 1, maxMessageBytes: 4096, config: {}, description: 'publisher.spec' };
const Items = defineMessage({
  name: 'items',
  version: 1,
  topic,
  schema: z.object({ tag: z.string(), items: z.array(z.string().max(5000)).min(1) }),
  tenantScoped: true,
});
const limit = recordByteLimit(topic);

const kek = KeyEncryptionKey.generate();
const keyring = new TenantKeyring(kek);
keyring.add(createWrappedKey(kek, 'label-a', 'data', 1));

function publisherWithFakeProducer() {
  const sent: ProducerRecord[] = [];
  const producer = { connect: async () => undefined, disconnect: async () => undefined, send: async (r: ProducerRecord) => void sent.push(r) };
  const kafka = { producer: () => producer } as unknown as Kafka;
  return { publisher: new RecordPublisher(kafka, keyring), sent };
}

// Incompressible filler: the codec gzips before sealing, and sizes here are about the sealed bytes.
const filler = (i: number, n: number) => createHash('sha512').update(`${i}.${n}`).digest('base64');
const item = (i: number) => `item-${String(i).padStart(4, '0')}-${filler(i, 0)}`;
const items = (from: number, n: number) => Array.from({ length: n }, (_, i) => item(from + i));

function decodedItems(sent: ProducerRecord[]): string[] {
  return sent.flatMap((r) =>
    r.messages.map((m) => {
      const headers = Object.fromEntries(Object.entries(m.headers ?? {}).map(([k, v]) => [k, String(v)]));
      const out = decodeRecord(topic.name, String(m.key), m.value as Buffer, headers, new Map([[Items.id, Items]]), keyring);
      if (!out.ok) throw new Error(out.reason);
      expect((out.value as { tag: string }).tag).toBe('t');
      return (out.value as { items: string[] }).items;
    }),
  ).flat();
}

function sizesOf(r: ProducerRecord): number[] {
  return r.messages.map((m) =>
    encodedRecordBytes({ key: String(m.key), value: m.value as Buffer, headers: Object.fromEntries(Object.entries(m.headers ?? {}).map(([k, v]) => [k, String(v)])) }),
  );
}

describe('RecordPublisher, by bytes', () => {
  it('keeps the registry limit minus a 64 KiB margin for real topics', () => {
    expect(recordByteLimit(Topics.telemetry)).toBe(8 * 1024 * 1024 - 64 * 1024);
    expect(recordByteLimit(Topics.dlq)).toBe(1024 * 1024 - 64 * 1024);
  });

  it('sends records that fit as they are, in one request', async () => {
    const { publisher, sent } = publisherWithFakeProducer();
    await publisher.publish(Items, [
      { tenant: 'label-a', value: { tag: 't', items: items(0, 3) } },
      { tenant: 'label-a', value: { tag: 't', items: items(3, 3) } },
    ]);
    expect(sent).toHaveLength(1);
    expect(sent[0].messages).toHaveLength(2);
    expect(decodedItems(sent)).toEqual(items(0, 6));
  });

  it('splits a record too large for its topic into halves that fit, keeping every item in order', async () => {
    const { publisher, sent } = publisherWithFakeProducer();
    await publisher.publish(Items, [{ tenant: 'label-a', value: { tag: 't', items: items(0, 200) } }], { split: splitArrayField('items') });
    const messages = sent.flatMap((r) => r.messages);
    expect(messages.length).toBeGreaterThan(4);
    for (const r of sent) {
      for (const bytes of sizesOf(r)) expect(bytes).toBeLessThanOrEqual(limit);
      // One request's records together stay under the limit too (the broker checks the batch).
      expect(sizesOf(r).reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(limit);
    }
    expect(decodedItems(sent)).toEqual(items(0, 200));
  });

  it('refuses a record too large when there is no way to split it, and sends nothing of the call', async () => {
    const { publisher, sent } = publisherWithFakeProducer();
    const call = publisher.publish(Items, [
      { tenant: 'label-a', value: { tag: 't', items: items(0, 2) } },
      { tenant: 'label-a', value: { tag: 't', items: items(2, 200) } },
    ]);
    await expect(call).rejects.toThrow(RecordTooLargeError);
    await expect(call).rejects.toThrow(new RegExp(`record of \\d+ bytes does not fit ${topic.name} \\(limit ${limit} bytes`));
    expect(sent).toHaveLength(0);
  });

  it('refuses a single item larger than the limit even with a splitter, and sends nothing', async () => {
    const { publisher, sent } = publisherWithFakeProducer();
    const call = publisher.publish(
      Items,
      [
        { tenant: 'label-a', value: { tag: 't', items: items(0, 100) } },
        { tenant: 'label-a', value: { tag: 't', items: [Array.from({ length: 55 }, (_, n) => filler(7, n)).join('').slice(0, 4500)] } },
      ],
      { split: splitArrayField('items') },
    );
    const err = await call.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RecordTooLargeError);
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as RecordTooLargeError).code).toBe('record_too_large');
    expect((err as RecordTooLargeError).bytes).toBeGreaterThan(limit);
    expect(sent).toHaveLength(0);
  });

  it('sends nothing when a later record is invalid, even after splitting earlier ones', async () => {
    const { publisher, sent } = publisherWithFakeProducer();
    const call = publisher.publish(
      Items,
      [
        { tenant: 'label-a', value: { tag: 't', items: items(0, 200) } },
        { tenant: 'label-a', value: { tag: 't', items: [] } },
      ],
      { split: splitArrayField('items') },
    );
    await expect(call).rejects.toThrow(ContractViolationError);
    expect(sent).toHaveLength(0);
  });

  it('spreads many small records over requests that each stay under the limit, in order', async () => {
    const { publisher, sent } = publisherWithFakeProducer();
    await publisher.publish(
      Items,
      Array.from({ length: 60 }, (_, i) => ({ tenant: 'label-a', value: { tag: 't', items: [item(i)] } })),
    );
    expect(sent.length).toBeGreaterThan(1);
    for (const r of sent) expect(sizesOf(r).reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(limit);
    expect(decodedItems(sent)).toEqual(items(0, 60));
  });
});

describe('splitArrayField', () => {
  const split = splitArrayField('points');

  it('halves the array and keeps the other fields in both halves', () => {
    expect(split({ batchId: 'b', points: [1, 2, 3] })).toEqual([
      { batchId: 'b', points: [1, 2] },
      { batchId: 'b', points: [3] },
    ]);
  });

  it('cannot split fewer than two items', () => {
    expect(split({ points: [1] })).toBeUndefined();
    expect(split({ points: [] })).toBeUndefined();
  });
});

describe('RecordPublisher, group commit', () => {
  /** A producer whose sends complete only when the test says so. */
  function publisherWithGatedProducer() {
    const sent: ProducerRecord[] = [];
    const gates: (() => void)[] = [];
    const producer = {
      connect: async () => undefined,
      disconnect: async () => undefined,
      send: (r: ProducerRecord) =>
        new Promise<void>((resolve) => {
          sent.push(r);
          gates.push(resolve);
        }),
    };
    const kafka = { producer: () => producer } as unknown as Kafka;
    return { publisher: new RecordPublisher(kafka, keyring), sent, gates };
  }
  const one = (i: number) => [{ tenant: 'label-a', value: { tag: 't', items: [item(i)] } }];
  const tick = () => new Promise((r) => setImmediate(r));

  it('sends a lone publish at once, and everything queued meanwhile together in the next request, in order', async () => {
    const { publisher, sent, gates } = publisherWithGatedProducer();
    const first = publisher.publish(Items, one(0));
    await tick();
    expect(sent).toHaveLength(1);
    const rest = [1, 2, 3, 4].map((i) => publisher.publish(Items, one(i)));
    await tick();
    expect(sent).toHaveLength(1); // one request in flight at a time
    gates[0]();
    await first;
    await tick();
    expect(sent).toHaveLength(2);
    expect(sent[1].messages).toHaveLength(4);
    gates[1]();
    await Promise.all(rest);
    expect(decodedItems(sent)).toEqual([0, 1, 2, 3, 4].map(item));
  });

  it('takes an aborted publish out of the queue: it rejects and is never sent', async () => {
    const { publisher, sent, gates } = publisherWithGatedProducer();
    const first = publisher.publish(Items, one(0));
    await tick();
    const abort = new AbortController();
    const queued = publisher.publish(Items, one(1), { signal: abort.signal });
    const other = publisher.publish(Items, one(2));
    abort.abort();
    await expect(queued).rejects.toBeInstanceOf(PublishAbortedError);
    gates[0]();
    await first;
    await tick();
    gates[1]();
    await other;
    expect(decodedItems(sent)).toEqual([item(0), item(2)]);
  });

  it('ignores an abort once its request is in flight: the publish settles with the send', async () => {
    const { publisher, sent, gates } = publisherWithGatedProducer();
    const abort = new AbortController();
    const inFlight = publisher.publish(Items, one(0), { signal: abort.signal });
    await tick();
    abort.abort();
    gates[0]();
    await expect(inFlight).resolves.toBeUndefined();
    expect(decodedItems(sent)).toEqual([item(0)]);
  });

  it('fails every publish of a failed request, and goes on with the next', async () => {
    const sent: ProducerRecord[] = [];
    let fail = true;
    const producer = {
      connect: async () => undefined,
      disconnect: async () => undefined,
      send: async (r: ProducerRecord) => {
        if (fail) throw new Error('broker said no');
        sent.push(r);
      },
    };
    const publisher = new RecordPublisher({ producer: () => producer } as unknown as Kafka, keyring);
    await expect(publisher.publish(Items, one(0))).rejects.toThrow('broker said no');
    fail = false;
    await publisher.publish(Items, one(1));
    expect(decodedItems(sent)).toEqual([item(1)]);
  });
});
