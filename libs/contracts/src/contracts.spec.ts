import { allContracts, fixtureSets } from './fixtures';
import { toFieldIssues } from './message';
import { allTopics, Topics } from './topics';
import { messageContracts } from './registry';
import { controlKey, ControlRecordSchema } from './control-record.schema';

describe.each(fixtureSets)('$name', ({ schema, ok, notOk }) => {
  it.each(Object.entries(ok))('accepts %s', (_name, value) => {
    const result = schema.safeParse(value);
    expect(result.success ? [] : toFieldIssues(result.error)).toEqual([]);
  });

  it.each(Object.entries(notOk))('rejects %s, blaming the right field', (_name, { value, path }) => {
    const result = schema.safeParse(value);
    expect(result.success).toBe(false);
    if (!result.success) expect(toFieldIssues(result.error).map((i) => i.path)).toContain(path);
  });
});

describe('registry', () => {
  it('has one contract per id, each on a registered topic', () => {
    expect(messageContracts.size).toBe(allContracts.length);
    const topicNames = new Set(allTopics.map((t) => t.name));
    for (const c of allContracts) {
      expect(topicNames.has(c.topic.name)).toBe(true);
      expect(messageContracts.get(c.id)).toBe(c);
    }
  });

  it('versions every topic name and compacts only the control topic', () => {
    for (const t of allTopics) expect(t.name).toMatch(/^headroom\.[a-z]+\.v\d+$/);
    expect(allTopics.filter((t) => t.config['cleanup.policy'] === 'compact').map((t) => t.name)).toEqual([Topics.control.name]);
  });

  it('gives each control entity its own compaction key', () => {
    const a = ControlRecordSchema.parse({ kind: 'api_key', keyId: 'aaaaaaaa', tenant: 'nova', secretHash: '0'.repeat(64), scopes: ['read'], createdAt: '2026-01-01T00:00:00Z' });
    const b = ControlRecordSchema.parse({ kind: 'api_key', keyId: 'bbbbbbbb', tenant: 'nova', secretHash: '0'.repeat(64), scopes: ['read'], createdAt: '2026-01-01T00:00:00Z' });
    expect(controlKey(a)).not.toEqual(controlKey(b));
    expect(controlKey(a)).toBe('api_key/aaaaaaaa');
  });
});
