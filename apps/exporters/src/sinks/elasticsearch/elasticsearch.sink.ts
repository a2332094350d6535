import { Client, errors } from '@elastic/elasticsearch';
import type { AggregateWindow } from '@headroom/contracts';
import { SinkRejectedError, SinkUnavailableError, type ExportSink, type SinkType } from '../sink';
import { classifyItem, classifyRequestStatus, type BulkItemResult, type ItemVerdict, type RejectedWindow, type WriteOutcome } from './elasticsearch.bulk';
import { defaultElasticsearchConfig, elasticsearchConfigFromEnv, validateElasticsearchConfig, type ElasticsearchSinkConfig } from './elasticsearch.config';
import { bulkBody, bulkChunks, bulkItem, expiredIndices, ilmPolicy, indexTemplate, ismPolicy, policyName, templateName, type BulkItem, type ServerFlavour } from './elasticsearch.requests';

/**
 * Elasticsearch / OpenSearch sink, one code path on `@elastic/elasticsearch` 7.13.0: the last client
 * that talks to both Elasticsearch 7.x and OpenSearch (7.14+ refuse any server that is not
 * Elasticsearch; 8.x/9.x send `compatible-with=8` media types that both answer with 406). See
 * docs/exporters.md for what is proven against which server.
 */

export interface ServerInfo {
  readonly flavour: ServerFlavour;
  readonly version: string;
  /** The lifecycle engine found on the cluster; `none`: only the sink's own retention sweep. */
  readonly lifecycle: 'ilm' | 'ism' | 'none';
}

export interface ElasticsearchSinkDeps {
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
  /** Problems that do not fail a write (a failed retention sweep). */
  readonly warn?: (message: string) => void;
}

const SWEEP_INTERVAL_MS = 3_600_000;
const SINK = 'elasticsearch';

type ClientError = InstanceType<typeof errors.ResponseError>;

/** A failed request as the contract's error: outages and credentials → unavailable; another 4xx → rejected. */
function requestFailure(what: string, err: unknown): SinkUnavailableError | SinkRejectedError {
  if (err instanceof errors.ResponseError) {
    const e = err as ClientError;
    const status = e.meta.statusCode ?? 0;
    const body = JSON.stringify(e.meta.body ?? '').slice(0, 500);
    const verdict = classifyRequestStatus(status);
    const detail = `${SINK}: ${what}: HTTP ${status}: ${body}`;
    if (verdict === 'retry') return new SinkUnavailableError(detail);
    if (verdict === 'blocked') return new SinkUnavailableError(`${detail} (check the sink's URL and credentials)`);
    return new SinkRejectedError(detail, status === 413 ? 'payload_too_large' : 'bad_request');
  }
  const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return new SinkUnavailableError(`${SINK}: ${what}: ${message}`);
}

/** Some windows of a batch stored, the others refused for good (`rejected`, each with its reason). */
export class SinkPartiallyRejectedError extends SinkRejectedError {
  constructor(
    tenant: string,
    total: number,
    readonly rejected: readonly RejectedWindow[],
  ) {
    super(`${SINK}: tenant ${tenant}: ${total - rejected.length} of ${total} window(s) stored, ${rejected.length} refused: ${rejected[0]?.reason ?? ''}`, rejected[0]?.code ?? 'bad_request');
    this.name = 'SinkPartiallyRejectedError';
  }
}

export class ElasticsearchSink implements ExportSink {
  readonly type = SINK;
  private readonly client: Client;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;
  private readonly warn: (message: string) => void;
  private prepared: Promise<ServerInfo> | undefined;
  private lastSweepAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly config: ElasticsearchSinkConfig,
    deps: ElasticsearchSinkDeps = {},
  ) {
    this.client = new Client({
      node: config.url,
      auth: config.apiKey ? { apiKey: config.apiKey } : config.username !== undefined ? { username: config.username, password: config.password ?? '' } : undefined,
      requestTimeout: config.timeoutMs,
      // Retries are the sink's (items) and the runner's (batches): the client must not add a third layer.
      maxRetries: 0,
      compression: 'gzip',
    });
    this.sleep = deps.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.now = deps.now ?? Date.now;
    this.warn = deps.warn ?? (() => undefined);
  }

  /**
   * Once per sink: which server, which lifecycle engine, then the policy and the template. A failure
   * fails this write as unavailable and is tried again by the next one.
   */
  prepare(): Promise<ServerInfo> {
    this.prepared ??= this.install().catch((err: unknown) => {
      this.prepared = undefined;
      throw err instanceof SinkUnavailableError || err instanceof SinkRejectedError ? new SinkUnavailableError(`${SINK}: setup: ${err.message}`) : requestFailure('setup', err);
    });
    return this.prepared;
  }

  private async install(): Promise<ServerInfo> {
    const { prefix, policy } = { prefix: this.config.indexPrefix, policy: policyName(this.config.indexPrefix) };
    const root = (await this.client.info()).body as { version?: { number?: string; distribution?: string } };
    const flavour: ServerFlavour = root.version?.distribution === 'opensearch' ? 'opensearch' : 'elasticsearch';
    const version = root.version?.number ?? 'unknown';
    const nodes = (
      await this.client.transport.request({ method: 'GET', path: '/_nodes/plugins', querystring: { filter_path: 'nodes.*.modules.name,nodes.*.plugins.name' } })
    ).body as { nodes?: Record<string, { modules?: { name: string }[]; plugins?: { name: string }[] }> };
    const components = new Set(Object.values(nodes.nodes ?? {}).flatMap((n) => [...(n.modules ?? []), ...(n.plugins ?? [])].map((c) => c.name)));
    const lifecycle = flavour === 'elasticsearch' ? (components.has('x-pack-ilm') ? 'ilm' : 'none') : components.has('opensearch-index-management') ? 'ism' : 'none';

    if (lifecycle === 'ilm') {
      await this.client.transport.request({ method: 'PUT', path: `/_ilm/policy/${policy}`, body: ilmPolicy(this.config.retentionDays) });
    } else if (lifecycle === 'ism') {
      await this.putIsmPolicy(policy);
    }
    await this.client.transport.request({
      method: 'PUT',
      path: `/_index_template/${templateName(prefix)}`,
      body: indexTemplate(prefix, { replicas: this.config.replicas, ilmPolicy: lifecycle === 'ilm' ? policy : undefined }),
    });
    return { flavour, version, lifecycle };
  }

  /** ISM refuses a plain PUT over an existing policy: an update names the version it replaces. */
  private async putIsmPolicy(policy: string): Promise<void> {
    const path = `/_plugins/_ism/policies/${policy}`;
    const existing = await this.client.transport.request({ method: 'GET', path }, { ignore: [404] });
    const current = existing.body as { _seq_no?: number; _primary_term?: number };
    const querystring = existing.statusCode === 200 && current._seq_no !== undefined ? { if_seq_no: current._seq_no, if_primary_term: current._primary_term } : {};
    await this.client.transport.request({ method: 'PUT', path, querystring, body: ismPolicy(this.config.indexPrefix, this.config.retentionDays) });
  }

  /**
   * The contract as it is today (sink.ts): resolves when every window was stored. When only some
   * were refused for good, throws a SinkPartiallyRejectedError (a SinkRejectedError): the runner
   * dead-letters the record, the stored windows included, which is harmless (a replay overwrites
   * them). With the proposed extension the runner calls `writeWindows` and dead-letters only the
   * refused ones.
   */
  async write(tenant: string, windows: readonly AggregateWindow[]): Promise<void> {
    const { rejected } = await this.writeWindows(tenant, windows);
    if (rejected.length > 0) throw new SinkPartiallyRejectedError(tenant, windows.length, rejected);
  }

  /**
   * Indexes one tenant's windows into that tenant's daily indices. Items answered 429/5xx are sent
   * again (only those, `itemRetries` times with doubling delays); still refused, the whole call is
   * unavailable and the runner retries the batch later — safe, as every id is deterministic. Items
   * refused for good resolve as `rejected` (the proposed contract extension); all of them refused: a
   * SinkRejectedError, as the contract has it today.
   */
  async writeWindows(tenant: string, windows: readonly AggregateWindow[]): Promise<WriteOutcome> {
    await this.prepare();
    await this.sweepIfDue();
    const rejected: RejectedWindow[] = [];
    let pending = windows.map((w) => bulkItem(this.config.indexPrefix, tenant, w));
    for (let attempt = 0; ; attempt++) {
      const retry: { item: BulkItem; reason: string }[] = [];
      for (const chunk of bulkChunks(pending, this.config.maxBulkBytes)) {
        const verdicts = await this.bulk(chunk);
        verdicts.forEach((v, i) => {
          const item = chunk[i]!;
          if (v.kind === 'retry') retry.push({ item, reason: `HTTP ${v.status} ${v.reason}` });
          else if (v.kind === 'rejected') rejected.push({ window: item.window, code: v.code, reason: `HTTP ${v.status} ${v.reason}` });
          else if (v.kind === 'blocked') {
            throw new SinkUnavailableError(`${SINK}: tenant ${tenant}: HTTP ${v.status} ${v.reason} (check the sink's credentials and index permissions)`);
          }
        });
      }
      if (retry.length === 0) break;
      const delay = this.config.itemRetryBaseMs * 2 ** attempt;
      if (attempt >= this.config.itemRetries) {
        throw new SinkUnavailableError(
          `${SINK}: tenant ${tenant}: ${retry.length} of ${windows.length} window(s) still refused after ${attempt + 1} attempt(s): ${retry[0]!.reason}`,
          delay,
        );
      }
      await this.sleep(delay);
      pending = retry.map((r) => r.item);
    }
    if (rejected.length > 0 && rejected.length === windows.length) {
      throw new SinkRejectedError(`${SINK}: tenant ${tenant}: all ${windows.length} window(s) refused: ${rejected[0]!.reason}`, rejected[0]!.code);
    }
    return { rejected };
  }

  private async bulk(chunk: readonly BulkItem[]): Promise<ItemVerdict[]> {
    let body: { errors?: boolean; items?: Record<string, BulkItemResult>[] };
    try {
      body = (await this.client.bulk({ body: bulkBody(chunk) })).body as typeof body;
    } catch (err) {
      const failure = requestFailure('bulk', err);
      if (failure instanceof SinkUnavailableError) throw failure;
      // The request itself was refused (e.g. 413): every item of this chunk, for that reason.
      return chunk.map(() => ({ kind: 'rejected', status: 400, code: failure.code, reason: failure.message }));
    }
    const items = body.items ?? [];
    if (items.length !== chunk.length) throw new SinkUnavailableError(`${SINK}: bulk answered ${items.length} item(s) for ${chunk.length}`);
    return items.map((entry) => classifyItem(Object.values(entry)[0] ?? { status: 0 }));
  }

  private async sweepIfDue(): Promise<void> {
    if (this.now() - this.lastSweepAt < SWEEP_INTERVAL_MS) return;
    this.lastSweepAt = this.now();
    try {
      await this.sweepRetention();
    } catch (err) {
      this.warn(`${SINK}: retention sweep failed (next in an hour): ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** Deletes this sink's daily indices past the retention; returns their names. */
  async sweepRetention(): Promise<string[]> {
    const prefix = this.config.indexPrefix;
    const listed = await this.client.cat.indices({ index: `${prefix}-*`, format: 'json', h: 'index', expand_wildcards: 'all' });
    const names = (listed.body as { index: string }[]).map((r) => r.index);
    const expired = expiredIndices(prefix, names, this.config.retentionDays, this.now());
    // A few names per request keeps the URL short whatever the number of tenants.
    for (let i = 0; i < expired.length; i += 50) {
      await this.client.indices.delete({ index: expired.slice(i, i + 50).join(','), ignore_unavailable: true });
    }
    return expired;
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

export const elasticsearchSinkType: SinkType<ElasticsearchSinkConfig> = {
  type: SINK,
  defaultConfig: defaultElasticsearchConfig,
  fromEnv: elasticsearchConfigFromEnv,
  validate: validateElasticsearchConfig,
  create: (config) => new ElasticsearchSink(config),
};
