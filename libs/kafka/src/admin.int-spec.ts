/**
 * ensureTopics against the real broker from `npm run infra:up`: creates, is idempotent,
 * grows partitions and restores drifted registry configs. Uses throwaway topics.
 */
import { Kafka, logLevel } from 'kafkajs';
import type { TopicSpec } from '@headroom/contracts';
import { describeTopics, ensureTopics, waitForBroker } from './admin';

const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const name = `headroom.test-admin-${process.pid}-${Date.now()}`;
const older = `${name}-older`;
const spec = (partitions: number, config: Record<string, string>): TopicSpec => ({ name, partitions, maxMessageBytes: 1048576, config, description: 'test' });

describe('ensureTopics', () => {
  const admin = new Kafka({ clientId: 'admin-int-spec', brokers, logLevel: logLevel.ERROR }).admin();

  beforeAll(async () => {
    await waitForBroker(brokers, 10_000);
    await admin.connect();
  });

  afterAll(async () => {
    await admin.deleteTopics({ topics: [name, older] }).catch(() => undefined);
    await admin.disconnect();
  });

  it('creates, then reports existing, then grows partitions and restores configs', async () => {
    const first = await ensureTopics(brokers, [spec(1, { 'cleanup.policy': 'compact' })]);
    expect(first.created).toEqual([name]);

    const again = await ensureTopics(brokers, [spec(1, { 'cleanup.policy': 'compact' })]);
    expect(again).toEqual({ created: [], existing: [name], expanded: [], reconfigured: [] });

    const grown = await ensureTopics(brokers, [spec(3, { 'cleanup.policy': 'delete', 'retention.ms': '60000' })]);
    expect(grown).toEqual({ created: [], existing: [name], expanded: [name], reconfigured: [name] });

    const [described] = await describeTopics(brokers, [name]);
    expect(described?.partitions).toBe(3);
    expect(described?.config['cleanup.policy']).toBe('delete');
    expect(described?.config['retention.ms']).toBe('60000');
  });

  it('gives a topic created before the registry had size limits its max.message.bytes, keeping its other overrides', async () => {
    await ensureTopics(brokers, [{ ...spec(1, { 'retention.ms': '120000' }), name: older }]);
    const limited = { ...spec(1, { 'max.message.bytes': String(8 * 1024 * 1024) }), name: older, maxMessageBytes: 8 * 1024 * 1024 };
    const result = await ensureTopics(brokers, [limited]);
    expect(result.reconfigured).toEqual([older]);
    const [described] = await describeTopics(brokers, [older]);
    expect(described?.config['max.message.bytes']).toBe('8388608');
    expect(described?.config['retention.ms']).toBe('120000');
  });
});
