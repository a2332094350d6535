/**
 * Bounded compaction on the real broker: a shredded tenant's wrapped key leaves a compacted topic
 * within max.compaction.lag.ms + the next segment roll + the cleaner's backoff, and its tombstone
 * delete.retention.ms (and one more cleaner pass) later. A throw-away topic carries the control
 * topic's settings scaled down to seconds; the control topic itself is checked to carry the real ones
 * once ensureTopics has reconciled it.
 */
import { randomBytes } from 'node:crypto';
import { Topics, type TopicSpec } from '@headroom/contracts';
import { createKafkaClient, describeTopics, ensureTopics, produceRawRecords, readRawRecords } from '@headroom/kafka';
import { silentLogger, testInfra } from '@headroom/testing';

const run = randomBytes(3).toString('hex');
const { brokers } = testInfra();
const kafka = createKafkaClient({ brokers, clientId: `compaction-int-${run}`, logger: silentLogger() });

const LAG_MS = 2_000;
const DELETE_RETENTION_MS = 1_000;
const TICK_MS = 1_000; // control's key job appends regularly; here a filler record every second
const CLEANER_BACKOFF_MS = 15_000; // the broker's log.cleaner.backoff.ms (default)
const topic: TopicSpec = {
  name: `compaction-bound-${run}`,
  partitions: 1,
  maxMessageBytes: 1024 * 1024,
  config: { 'cleanup.policy': 'compact', 'min.compaction.lag.ms': '0', 'max.compaction.lag.ms': String(LAG_MS), 'segment.ms': String(LAG_MS), 'delete.retention.ms': String(DELETE_RETENTION_MS) },
  description: 'throw-away: the control topic compaction settings in seconds',
};

/** Keys present on the topic now, read from the beginning to its current end. */
async function keysOnTopic(): Promise<{ key: string | null; tombstone: boolean }[]> {
  const admin = kafka.admin();
  await admin.connect();
  const [end] = await admin.fetchTopicOffsets(topic.name).finally(() => admin.disconnect());
  const high = BigInt(end.high);
  if (high === BigInt(end.low)) return [];
  const records = await readRawRecords(kafka, topic.name, { until: (rs) => BigInt(rs[rs.length - 1].offset) + 1n >= high, timeoutMs: 20_000 });
  return records.map((r) => ({ key: r.key, tombstone: r.value === null }));
}

describe('control topic compaction is bounded', () => {
  jest.setTimeout(180_000);

  afterAll(async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [topic.name] }).catch(() => undefined);
    await admin.disconnect();
  });

  it('the control topic carries max.compaction.lag.ms and delete.retention.ms once ensureTopics has reconciled it', async () => {
    await ensureTopics(brokers, [Topics.control]);
    const [described] = await describeTopics(brokers, [Topics.control.name]);
    expect(described.config['cleanup.policy']).toBe('compact');
    expect(described.config['max.compaction.lag.ms']).toBe(String(3600 * 1000));
    expect(described.config['delete.retention.ms']).toBe(String(3600 * 1000));
    expect(described.config['segment.ms']).toBe(String(3600 * 1000));
  });

  it('a tombstoned data key is gone from the topic, read from the beginning, within the stated bound', async () => {
    await ensureTopics(brokers, [topic]);
    const shredded = `data_key/shredded-${run}/data/1`;
    await produceRawRecords(kafka, topic.name, [{ key: shredded, value: Buffer.from(JSON.stringify({ kind: 'data_key', wrapped: 'AAAA' })), headers: {} }]);
    await produceRawRecords(kafka, topic.name, [{ key: shredded, value: null, headers: {} }]);
    const tombstonedAt = Date.now();
    expect((await keysOnTopic()).filter((r) => r.key === shredded)).toHaveLength(2);

    // The bound stated in docs/crypto.md, with this topic's values.
    const valueBound = LAG_MS + TICK_MS + CLEANER_BACKOFF_MS;
    const tombstoneBound = 2 * valueBound + DELETE_RETENTION_MS;
    let valueGoneMs: number | undefined;
    let allGoneMs: number | undefined;
    const filler = setInterval(() => void produceRawRecords(kafka, topic.name, [{ key: 'tick', value: Buffer.from('tick'), headers: {} }]).catch(() => undefined), TICK_MS);
    try {
      while (Date.now() - tombstonedAt < tombstoneBound + 10_000 && allGoneMs === undefined) {
        await new Promise((r) => setTimeout(r, 1_000));
        const left = (await keysOnTopic()).filter((r) => r.key === shredded);
        if (valueGoneMs === undefined && !left.some((r) => !r.tombstone)) valueGoneMs = Date.now() - tombstonedAt;
        if (left.length === 0) allGoneMs = Date.now() - tombstonedAt;
      }
    } finally {
      clearInterval(filler);
    }
    // Figures for the report (not a timed assertion: the bound is the broker's contract, checked with slack for this busy machine).
    process.stdout.write(`${JSON.stringify({ compaction: { valueGoneMs, allGoneMs, valueBound, tombstoneBound } })}\n`);
    expect(valueGoneMs).toBeDefined();
    expect(allGoneMs).toBeDefined();
    expect(valueGoneMs!).toBeLessThanOrEqual(valueBound + 5_000);
    expect(allGoneMs!).toBeLessThanOrEqual(tombstoneBound + 10_000);
  });
});
