import { Client } from '@elastic/elasticsearch';
import type { AggregateWindow } from '@headroom/contracts';
import { startSearchServer, uniqueId, type SearchFlavour, type SearchServer } from '@headroom/testing';
import { SinkRejectedError, SinkUnavailableError } from '../sink';
import { defaultElasticsearchConfig, type ElasticsearchSinkConfig } from './elasticsearch.config';
import { indexName } from './elasticsearch.requests';
import { ElasticsearchSink, SinkPartiallyRejectedError } from './elasticsearch.sink';

const PREFIX = 'headroom-aggregates';
const DAY = 86_400_000;
// Two UTC days, recent enough for the default 30-day retention.
const DAY1 = Math.floor(Date.now() / DAY) * DAY - 2 * DAY + 3_600_000;
const DAY2 = DAY1 + DAY;

function win(route: string, windowStart: number, sum: number, revision?: number): AggregateWindow {
  return {
    series: { name: 'http_request_duration_seconds', labels: { route, method: 'GET' } },
    seriesId: `s${route.replace(/[^a-z0-9]/g, '') || 'root'}`,
    windowStart,
    windowMs: 10_000,
    count: 4,
    sum,
    min: 0.1,
    max: 0.6,
    p50: 0.25,
    p95: 0.55,
    p99: 0.59,
    unit: 'seconds',
    ...(revision !== undefined ? { revision } : {}),
  };
}

interface Doc {
  tenant: string;
  metric: string;
  series_id: string;
  labels: Record<string, string>;
  '@timestamp': number;
  sum: number;
  mean: number;
  p99: number;
  revision: number;
}

describe.each<SearchFlavour>(['elasticsearch', 'opensearch'])('Elasticsearch sink against a real %s', (flavour) => {
  let server: SearchServer;
  let admin: Client;
  const sinks: ElasticsearchSink[] = [];

  const sinkFor = (overrides: Partial<ElasticsearchSinkConfig> = {}, deps: ConstructorParameters<typeof ElasticsearchSink>[1] = {}): ElasticsearchSink => {
    const sink = new ElasticsearchSink({ ...defaultElasticsearchConfig(), url: server.url, replicas: 0, ...overrides }, deps);
    sinks.push(sink);
    return sink;
  };

  const docsOf = async (tenant: string): Promise<{ index: string; id: string; doc: Doc }[]> => {
    await admin.indices.refresh({ index: `${PREFIX}-*` });
    const res = await admin.search({ index: `${PREFIX}-${tenant}-*`, body: { size: 1000, track_total_hits: true, sort: [{ '@timestamp': 'asc' }, { series_id: 'asc' }] } });
    const hits = res.body.hits.hits as { _index: string; _id: string; _source: Doc }[];
    expect(res.body.hits.total.value).toBe(hits.length);
    return hits.map((h) => ({ index: h._index, id: h._id, doc: h._source }));
  };

  beforeAll(async () => {
    server = await startSearchServer(flavour);
    admin = new Client({ node: server.url });
  }, 180_000);

  afterAll(async () => {
    for (const sink of sinks) await sink.close();
    await admin?.close();
    await server?.stop();
  }, 60_000);

  it('detects the server, installs the index template (date, keyword labels, double stats) and reports no lifecycle engine on these builds', async () => {
    const info = await sinkFor().prepare();
    expect(info).toEqual({ flavour, version: server.version, lifecycle: 'none' });
    const res = await admin.transport.request({ method: 'GET', path: `/_index_template/${PREFIX}-template` });
    const [template] = (res.body as { index_templates: { index_template: { index_patterns: string[]; template: { mappings: { properties: Record<string, { type: string }> } } } }[] }).index_templates;
    expect(template!.index_template.index_patterns).toEqual([`${PREFIX}-*`]);
    const props = template!.index_template.template.mappings.properties;
    expect([props['@timestamp']!.type, props['labels']!.type, props['sum']!.type, props['p99']!.type, props['count']!.type]).toEqual(['date', 'object', 'double', 'double', 'long']);
    // Why `none`: the Apache-2.0 Elasticsearch has no ILM, and this OpenSearch has no ISM plugin.
    const lifecycleApi = flavour === 'elasticsearch' ? '/_ilm/policy' : '/_plugins/_ism/policies';
    const probe = await admin.transport.request({ method: 'GET', path: lifecycleApi }, { ignore: [400, 404, 405] });
    expect(probe.statusCode).not.toBe(200);
  });

  it("indexes two tenants' windows into their own daily indices, read back exactly, nothing of the other tenant", async () => {
    const a = uniqueId('acme');
    const b = uniqueId('beta');
    const sink = sinkFor();
    await expect(sink.write(a, [win('/play', DAY1, 1.2), win('/pay', DAY1, 2.4), win('/play', DAY2, 0.8)])).resolves.toBeUndefined();
    await sink.write(b, [win('/play', DAY1, 9.6)]);

    const docsA = await docsOf(a);
    expect(docsA.map((d) => [d.index, d.doc.labels['route'], d.doc.sum, d.doc.tenant])).toEqual([
      [indexName(PREFIX, a, DAY1), '/pay', 2.4, a],
      [indexName(PREFIX, a, DAY1), '/play', 1.2, a],
      [indexName(PREFIX, a, DAY2), '/play', 0.8, a],
    ]);
    expect(docsA[1]!.doc).toMatchObject({ metric: 'http_request_duration_seconds', '@timestamp': DAY1, mean: 0.3, p99: 0.59, revision: 0, labels: { route: '/play', method: 'GET' } });
    expect(docsA[1]!.id).toBe(`${a}:splay:${DAY1}:10000`);
    const docsB = await docsOf(b);
    expect(docsB.map((d) => [d.doc.tenant, d.doc.sum])).toEqual([[b, 9.6]]);

    // Labels are keywords and timestamps dates: an exact term and a date range find the one window.
    const term = await admin.search({ index: `${PREFIX}-${a}-*`, body: { query: { bool: { filter: [{ term: { 'labels.route': '/play' } }, { range: { '@timestamp': { gte: DAY2 } } }] } } } });
    expect(term.body.hits.hits.map((h: { _source: Doc }) => h._source.sum)).toEqual([0.8]);
    const mapping = await admin.indices.getMapping({ index: indexName(PREFIX, a, DAY1) });
    const props = Object.values(mapping.body as Record<string, { mappings: { properties: Record<string, { type?: string; properties?: Record<string, { type: string }> }> } }>)[0]!.mappings.properties;
    expect(props['labels']!.properties!['route']!.type).toBe('keyword');
  });

  it('overwrites a replayed window instead of duplicating it; a higher revision wins, a late older one does not', async () => {
    const t = uniqueId('replay');
    const sink = sinkFor();
    await sink.write(t, [win('/play', DAY1, 1.0), win('/pay', DAY1, 2.0)]);
    await sink.write(t, [win('/play', DAY1, 1.0), win('/pay', DAY1, 2.0)]);
    expect((await docsOf(t)).map((d) => [d.doc.labels['route'], d.doc.sum, d.doc.revision])).toEqual([
      ['/pay', 2.0, 0],
      ['/play', 1.0, 0],
    ]);
    await sink.write(t, [win('/play', DAY1, 1.5, 1)]);
    await expect(sink.write(t, [win('/play', DAY1, 1.0, 0)])).resolves.toBeUndefined();
    expect((await docsOf(t)).map((d) => [d.doc.labels['route'], d.doc.sum, d.doc.revision])).toEqual([
      ['/pay', 2.0, 0],
      ['/play', 1.5, 1],
    ]);
  });

  it('stores the good windows of a batch and reports only the one the mapping refuses; a batch of only refused windows is rejected', async () => {
    const t = uniqueId('mapping');
    // An operator's mapping that disagrees with one of the series: route as a number.
    await admin.indices.create({ index: indexName(PREFIX, t, DAY1), body: { mappings: { properties: { labels: { properties: { route: { type: 'long' } } } } } } });
    const sink = sinkFor();
    const outcome = await sink.writeWindows(t, [win('1', DAY1, 1), win('/play', DAY1, 2), win('3', DAY1, 3)]);
    expect(outcome.rejected).toHaveLength(1);
    expect(outcome.rejected[0]!.window.series.labels['route']).toBe('/play');
    expect(outcome.rejected[0]!.code).toBe('mapping');
    expect(outcome.rejected[0]!.reason).toMatch(/HTTP 400 mapper_parsing_exception/);
    expect((await docsOf(t)).map((d) => d.doc.sum)).toEqual([1, 3]);

    const partial = await sink.write(t, [win('4', DAY1, 4), win('/pay', DAY1, 5)]).catch((e: unknown) => e);
    expect(partial).toBeInstanceOf(SinkPartiallyRejectedError);
    expect((partial as SinkPartiallyRejectedError).rejected.map((r) => r.window.sum)).toEqual([5]);

    const all = await sink.write(t, [win('/a', DAY1, 6), win('/b', DAY1, 7)]).catch((e: unknown) => e);
    expect(all).toBeInstanceOf(SinkRejectedError);
    expect(all).not.toBeInstanceOf(SinkPartiallyRejectedError);
    expect((all as SinkRejectedError).code).toBe('mapping');
    expect((await docsOf(t)).map((d) => d.doc.sum)).toEqual([1, 3, 4]);
  });

  it('retries only the items answered 429, a bounded number of times, then is unavailable; the batch retried later lands once', async () => {
    const t = uniqueId('blocked');
    const blockedIndex = indexName(PREFIX, t, DAY1);
    const block = (on: boolean) => admin.indices.putSettings({ index: blockedIndex, body: { 'index.blocks.read_only_allow_delete': on ? true : null } });
    const delays: number[] = [];
    const sink = sinkFor({ itemRetries: 2, itemRetryBaseMs: 5 }, { sleep: async (ms) => void delays.push(ms) });
    await sink.write(t, [win('/play', DAY1, 1), win('/play', DAY2, 1)]);
    // The flood-stage block: both servers answer its items 429 (TOO_MANY_REQUESTS/12).
    await block(true);

    const batch = [win('/play', DAY1, 2, 1), win('/play', DAY2, 2, 1)];
    const err = await sink.write(t, batch).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SinkUnavailableError);
    expect((err as Error).message).toMatch(/1 of 2 window\(s\) still refused after 3 attempt\(s\): HTTP 429 cluster_block_exception/);
    expect(delays).toEqual([5, 10]);
    expect((await docsOf(t)).map((d) => [d.index, d.doc.sum, d.doc.revision])).toEqual([
      [blockedIndex, 1, 0],
      [indexName(PREFIX, t, DAY2), 2, 1],
    ]);

    // The runner's later retry of the same batch, the block lifted after the first 429: stored once.
    delays.length = 0;
    const recovering = sinkFor({ itemRetries: 2, itemRetryBaseMs: 5 }, { sleep: async (ms) => void (delays.push(ms), await block(false)) });
    await expect(recovering.writeWindows(t, batch)).resolves.toEqual({ rejected: [] });
    expect(delays).toEqual([5]);
    expect((await docsOf(t)).map((d) => [d.index, d.doc.sum, d.doc.revision])).toEqual([
      [blockedIndex, 2, 1],
      [indexName(PREFIX, t, DAY2), 2, 1],
    ]);
  });

  it("deletes the sink's daily indices past the retention, and no others", async () => {
    const old = uniqueId('old');
    const other = uniqueId('keep');
    const longAgo = DAY1 - 40 * DAY;
    const sink = sinkFor({ retentionDays: 30 });
    await sink.write(old, [win('/play', longAgo, 1), win('/play', DAY1, 1)]);
    await sink.write(other, [win('/play', DAY1 - 20 * DAY, 1)]);
    await admin.indices.create({ index: `${PREFIX}-notours` });
    const deleted = await sink.sweepRetention();
    expect(deleted.filter((n) => n.includes(old) || n.includes(other))).toEqual([indexName(PREFIX, old, longAgo)]);
    expect((await docsOf(old)).map((d) => d.doc['@timestamp'])).toEqual([DAY1]);
    expect(await docsOf(other)).toHaveLength(1);
    expect((await admin.indices.exists({ index: `${PREFIX}-notours` })).body).toBe(true);
  });

  it('is unavailable, never rejected, when the server cannot be reached', async () => {
    const sink = sinkFor({ url: 'http://127.0.0.1:9', timeoutMs: 1_000 });
    await expect(sink.write('nobody', [win('/play', DAY1, 1)])).rejects.toBeInstanceOf(SinkUnavailableError);
  });
});
