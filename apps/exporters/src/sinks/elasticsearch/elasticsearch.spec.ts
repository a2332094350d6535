import type { AggregateWindow } from '@headroom/contracts';
import { classifyItem, classifyRequestStatus } from './elasticsearch.bulk';
import { defaultElasticsearchConfig, elasticsearchConfigFromEnv, validateElasticsearchConfig } from './elasticsearch.config';
import { bulkBody, bulkChunks, bulkItem, documentId, expiredIndices, ilmPolicy, indexName, indexTemplate, ismPolicy, toDocument } from './elasticsearch.requests';
import { elasticsearchSinkType } from './elasticsearch.sink';

const START = Date.UTC(2026, 2, 31, 23, 59, 50);

function win(overrides: Partial<AggregateWindow> = {}): AggregateWindow {
  return {
    series: { name: 'plays_total', labels: { region: 'eu' } },
    seriesId: 'abc123',
    windowStart: START,
    windowMs: 10_000,
    count: 4,
    sum: 10,
    min: 1,
    max: 4,
    p50: 2,
    p95: 4,
    p99: 4,
    ...overrides,
  };
}

describe('elasticsearch sink config', () => {
  it('is enabled by EXPORT_ELASTICSEARCH_URL only, and reads the other variables', () => {
    expect(elasticsearchConfigFromEnv({})).toBeUndefined();
    expect(elasticsearchConfigFromEnv({ EXPORT_ELASTICSEARCH_URL: ' ' })).toBeUndefined();
    expect(
      elasticsearchConfigFromEnv({
        EXPORT_ELASTICSEARCH_URL: 'https://es.example:9200',
        EXPORT_ELASTICSEARCH_API_KEY: 'a2V5',
        EXPORT_ELASTICSEARCH_INDEX_PREFIX: 'hr',
        EXPORT_ELASTICSEARCH_RETENTION_DAYS: '7',
        EXPORT_ELASTICSEARCH_TIMEOUT_MS: '2500',
      }),
    ).toEqual({ url: 'https://es.example:9200', apiKey: 'a2V5', indexPrefix: 'hr', retentionDays: 7, timeoutMs: 2500 });
  });

  it('accepts the defaults with a URL', () => {
    expect(validateElasticsearchConfig({ ...defaultElasticsearchConfig(), url: 'http://127.0.0.1:9200' })).toEqual([]);
    expect(elasticsearchSinkType.type).toBe('elasticsearch');
  });

  it('lists every problem with its path', () => {
    const config = {
      ...defaultElasticsearchConfig(),
      ...elasticsearchConfigFromEnv({
        EXPORT_ELASTICSEARCH_URL: 'http://elastic:secret@es:9200',
        EXPORT_ELASTICSEARCH_USERNAME: 'elastic',
        EXPORT_ELASTICSEARCH_API_KEY: 'a2V5',
        EXPORT_ELASTICSEARCH_INDEX_PREFIX: 'Headroom*',
        EXPORT_ELASTICSEARCH_RETENTION_DAYS: 'thirty',
        EXPORT_ELASTICSEARCH_TIMEOUT_MS: '0',
      }),
    };
    const problems = validateElasticsearchConfig(config);
    expect(problems.map((p) => p.path)).toEqual(['url', 'password', 'apiKey', 'indexPrefix', 'retentionDays', 'timeoutMs']);
    expect(problems[0]!.message).toMatch(/must not carry credentials/);
    expect(JSON.stringify(problems)).not.toContain('secret');
    expect(validateElasticsearchConfig({ ...defaultElasticsearchConfig(), url: 'ftp://x' }).map((p) => p.path)).toEqual(['url']);
    expect(validateElasticsearchConfig({ ...defaultElasticsearchConfig(), url: 'not a url' }).map((p) => p.path)).toEqual(['url']);
  });
});

describe('elasticsearch sink requests', () => {
  it('puts a window in its tenant’s index for the UTC day of its start, under the contract’s idempotency key', () => {
    expect(indexName('headroom-aggregates', 'acme-eu', START)).toBe('headroom-aggregates-acme-eu-2026.03.31');
    expect(indexName('headroom-aggregates', 'acme-eu', START + 10_000)).toBe('headroom-aggregates-acme-eu-2026.04.01');
    expect(documentId('acme-eu', win())).toBe(`acme-eu:abc123:${START}:10000`);
  });

  it('versions each item by its revision (external_gte) and carries the stats as numbers', () => {
    const item = bulkItem('hr', 'acme', win({ revision: 3, unit: 'seconds' }));
    expect(JSON.parse(item.action)).toEqual({ index: { _index: 'hr-acme-2026.03.31', _id: `acme:abc123:${START}:10000`, version: 3, version_type: 'external_gte' } });
    expect(JSON.parse(item.source)).toEqual({
      '@timestamp': START,
      window_end: START + 10_000,
      window_ms: 10_000,
      tenant: 'acme',
      metric: 'plays_total',
      series_id: 'abc123',
      labels: { region: 'eu' },
      count: 4,
      sum: 10,
      min: 1,
      max: 4,
      mean: 2.5,
      p50: 2,
      p95: 4,
      p99: 4,
      unit: 'seconds',
      revision: 3,
    });
    expect(JSON.parse(bulkItem('hr', 'acme', win()).action).index.version).toBe(0);
    expect(toDocument('acme', win({ sketch: 'AAAA' })).sketch).toBe('AAAA');
    expect(bulkBody([item, item]).split('\n')).toHaveLength(5);
  });

  it('splits a batch into bulk bodies under the byte limit, keeping order', () => {
    const items = [1, 2, 3, 4, 5].map((i) => bulkItem('hr', 'acme', win({ seriesId: `s${i}` })));
    const chunks = bulkChunks(items, items[0]!.bytes * 2);
    expect(chunks.map((c) => c.length)).toEqual([2, 2, 1]);
    expect(chunks.flat()).toEqual(items);
    expect(bulkChunks(items, 1).map((c) => c.length)).toEqual([1, 1, 1, 1, 1]);
    expect(bulkChunks([], 100)).toEqual([]);
  });

  it('maps timestamps as dates, labels as keywords, stats as doubles, and names the ILM policy only when given', () => {
    const t = indexTemplate('hr', { replicas: 0 }) as { index_patterns: string[]; template: { settings: Record<string, unknown>; mappings: Record<string, unknown> } };
    expect(t.index_patterns).toEqual(['hr-*']);
    expect(t.template.settings).toEqual({ number_of_shards: 1, number_of_replicas: 0 });
    expect(t.template.mappings['dynamic']).toBe('strict');
    expect(JSON.stringify(t.template.mappings)).toContain('"path_match":"labels.*","mapping":{"type":"keyword"');
    const withIlm = indexTemplate('hr', { ilmPolicy: 'hr-retention' }) as { template: { settings: Record<string, unknown> } };
    expect(withIlm.template.settings).toEqual({ number_of_shards: 1, 'index.lifecycle.name': 'hr-retention' });
  });

  it('writes lifecycle policies that delete after the retention: ILM phases, ISM states attached by pattern', () => {
    expect(ilmPolicy(7)).toEqual({ policy: { phases: { hot: { min_age: '0ms', actions: {} }, delete: { min_age: '7d', actions: { delete: {} } } } } });
    const ism = ismPolicy('hr', 7) as { policy: { states: { name: string; transitions: unknown[] }[]; ism_template: unknown } };
    expect(ism.policy.states.map((s) => s.name)).toEqual(['hot', 'delete']);
    expect(ism.policy.states[0]!.transitions).toEqual([{ state_name: 'delete', conditions: { min_index_age: '7d' } }]);
    expect(ism.policy.ism_template).toEqual([{ index_patterns: ['hr-*'], priority: 100 }]);
  });

  it('expires only its own daily indices whose whole day is past the retention', () => {
    const now = Date.UTC(2026, 3, 10, 12);
    const names = [
      'hr-acme-2026.03.10', // ended 03-11 00:00, 30 d 12 h ago
      'hr-acme-eu-2026.03.11', // ends 03-12 00:00, 29 d 12 h ago: kept
      'hr-acme-2026.04.10',
      'hr-acme', // not a daily index
      'hrx-acme-2026.01.01', // another prefix
      'other-acme-2026.01.01',
      '.kibana',
    ];
    expect(expiredIndices('hr', names, 30, now)).toEqual(['hr-acme-2026.03.10']);
    expect(expiredIndices('h.r', ['hxr-acme-2020.01.01', 'h.r-acme-2020.01.01'], 30, now)).toEqual(['h.r-acme-2020.01.01']);
  });
});

describe('elasticsearch bulk item classification', () => {
  it.each([
    [{ status: 201 }, 'done'],
    [{ status: 200 }, 'done'],
    [{ status: 409, error: { type: 'version_conflict_engine_exception', reason: 'current version [3] is higher' } }, 'done'],
    [{ status: 429, error: { type: 'es_rejected_execution_exception', reason: 'queue full' } }, 'retry'],
    [{ status: 429, error: { type: 'cluster_block_exception', reason: 'TOO_MANY_REQUESTS/12' } }, 'retry'],
    [{ status: 503, error: { type: 'unavailable_shards_exception' } }, 'retry'],
    [{ status: 408 }, 'retry'],
    [{ status: 403, error: { type: 'security_exception' } }, 'blocked'],
    [{ status: 404, error: { type: 'index_not_found_exception' } }, 'blocked'],
    [{ status: 400, error: { type: 'mapper_parsing_exception', reason: 'failed to parse field [labels.route]', caused_by: { type: 'illegal_argument_exception', reason: 'For input string' } } }, 'rejected'],
    [{ status: 400, error: { type: 'strict_dynamic_mapping_exception' } }, 'rejected'],
    [{ status: 409, error: { type: 'some_other_conflict' } }, 'rejected'],
  ])('%j → %s', (item, kind) => {
    expect(classifyItem(item).kind).toBe(kind);
  });

  it('names the cause of a refusal and a DLQ code', () => {
    const v = classifyItem({ status: 400, error: { type: 'mapper_parsing_exception', reason: 'failed to parse', caused_by: { type: 'number_format_exception', reason: 'For input string: "/play"' } } });
    expect(v).toEqual({ kind: 'rejected', status: 400, code: 'mapping', reason: 'mapper_parsing_exception: failed to parse (number_format_exception: For input string: "/play")' });
    expect(classifyItem({ status: 400, error: { type: 'action_request_validation_exception' } })).toMatchObject({ code: 'bad_request' });
  });

  it('judges a whole request the same way', () => {
    expect([429, 502, 408, 401, 403, 404, 400, 413].map(classifyRequestStatus)).toEqual(['retry', 'retry', 'retry', 'blocked', 'blocked', 'blocked', 'rejected', 'rejected']);
  });
});
