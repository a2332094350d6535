import { allTopics, Topics } from './topics';

describe('topic record size limits', () => {
  it('gives telemetry and aggregates 8 MiB and every other topic 1 MiB', () => {
    expect(Topics.telemetry.maxMessageBytes).toBe(8_388_608);
    expect(Topics.aggregates.maxMessageBytes).toBe(8_388_608);
    for (const t of allTopics.filter((t) => t !== Topics.telemetry && t !== Topics.aggregates)) expect([t.name, t.maxMessageBytes]).toEqual([t.name, 1_048_576]);
  });

  it('puts the limit in each topic config, so the broker enforces the same number', () => {
    for (const t of allTopics) expect([t.name, t.config['max.message.bytes']]).toEqual([t.name, String(t.maxMessageBytes)]);
  });
});
