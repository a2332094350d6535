import type { AggregateWindow } from '@headroom/contracts';

/**
 * What the Elasticsearch sink sends, as plain data (no client): index names, document ids and
 * bodies, the bulk lines, the index template and the lifecycle policies.
 *
 * Why daily indices named by the window's start, and not a data stream or a rollover alias: a
 * window is republished whole when late points merge into it (a higher `revision`), and the runner
 * retries whole batches. Both must overwrite the document they replace. A data stream accepts only
 * `op_type: create` (a second write of an id is a 409, never an overwrite), and after a rollover a
 * replay lands in the new backing index beside the old copy. A deterministic index + id does
 * overwrite, on every server. (Elasticsearch 7.10's Apache-2.0 build also has no data streams.)
 */

export type ServerFlavour = 'elasticsearch' | 'opensearch';

const DAY_MS = 86_400_000;

function day(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}.${pad(d.getUTCMonth() + 1)}.${pad(d.getUTCDate())}`;
}

/** `<prefix>-<tenant>-<yyyy.MM.dd>` (UTC day of windowStart): one tenant per index, never shared. */
export function indexName(prefix: string, tenant: string, windowStart: number): string {
  return `${prefix}-${tenant}-${day(windowStart)}`;
}

/** The contract's idempotency key: the same window always lands on the same document. */
export function documentId(tenant: string, w: Pick<AggregateWindow, 'seriesId' | 'windowStart' | 'windowMs'>): string {
  return `${tenant}:${w.seriesId}:${w.windowStart}:${w.windowMs}`;
}

export interface WindowDocument {
  '@timestamp': number;
  window_end: number;
  window_ms: number;
  tenant: string;
  metric: string;
  series_id: string;
  labels: Record<string, string>;
  count: number;
  sum: number;
  min: number;
  max: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  unit?: string;
  revision: number;
  sketch?: string;
}

export function toDocument(tenant: string, w: AggregateWindow): WindowDocument {
  return {
    '@timestamp': w.windowStart,
    window_end: w.windowStart + w.windowMs,
    window_ms: w.windowMs,
    tenant,
    metric: w.series.name,
    series_id: w.seriesId,
    labels: { ...w.series.labels },
    count: w.count,
    sum: w.sum,
    min: w.min,
    max: w.max,
    mean: w.sum / w.count,
    p50: w.p50,
    p95: w.p95,
    p99: w.p99,
    ...(w.unit !== undefined ? { unit: w.unit } : {}),
    revision: w.revision ?? 0,
    ...(w.sketch !== undefined ? { sketch: w.sketch } : {}),
  };
}

/** One window's two bulk lines, already serialized (so batches can be split by size). */
export interface BulkItem {
  readonly window: AggregateWindow;
  readonly action: string;
  readonly source: string;
  readonly bytes: number;
}

/**
 * `version_type: external_gte` with the revision as version: a replay of the same revision
 * overwrites (harmless, identical), a higher revision wins, and an older revision arriving late is
 * refused with 409 — which the sink counts as done, since a newer copy is stored.
 */
export function bulkItem(prefix: string, tenant: string, w: AggregateWindow): BulkItem {
  const action = JSON.stringify({
    index: { _index: indexName(prefix, tenant, w.windowStart), _id: documentId(tenant, w), version: w.revision ?? 0, version_type: 'external_gte' },
  });
  const source = JSON.stringify(toDocument(tenant, w));
  return { window: w, action, source, bytes: Buffer.byteLength(action) + Buffer.byteLength(source) + 2 };
}

/** Splits items into bulk bodies of at most `maxBytes` (an item larger than that goes alone). */
export function bulkChunks(items: readonly BulkItem[], maxBytes: number): BulkItem[][] {
  const chunks: BulkItem[][] = [];
  let current: BulkItem[] = [];
  let size = 0;
  for (const item of items) {
    if (current.length > 0 && size + item.bytes > maxBytes) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(item);
    size += item.bytes;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

export function bulkBody(items: readonly BulkItem[]): string {
  return items.map((i) => `${i.action}\n${i.source}\n`).join('');
}

export function templateName(prefix: string): string {
  return `${prefix}-template`;
}

export function policyName(prefix: string): string {
  return `${prefix}-retention`;
}

/**
 * Composable index template (ES ≥ 7.8, OpenSearch ≥ 1.0). `dynamic: strict` at the top: a document
 * the sink did not shape is refused, not silently widening the mapping. Labels are an object whose
 * every field is a keyword (a dynamic template: `flattened` is x-pack only in 7.x and OpenSearch
 * calls its equivalent `flat_object`); label names are Prometheus names, so they never contain dots.
 */
export function indexTemplate(prefix: string, opts: { replicas?: number; ilmPolicy?: string }): Record<string, unknown> {
  const settings: Record<string, unknown> = { number_of_shards: 1 };
  if (opts.replicas !== undefined) settings['number_of_replicas'] = opts.replicas;
  if (opts.ilmPolicy !== undefined) settings['index.lifecycle.name'] = opts.ilmPolicy;
  return {
    index_patterns: [`${prefix}-*`],
    priority: 200,
    template: {
      settings,
      mappings: {
        dynamic: 'strict',
        dynamic_templates: [{ labels_as_keyword: { path_match: 'labels.*', mapping: { type: 'keyword', ignore_above: 1024 } } }],
        properties: {
          '@timestamp': { type: 'date', format: 'epoch_millis' },
          window_end: { type: 'date', format: 'epoch_millis' },
          window_ms: { type: 'long' },
          tenant: { type: 'keyword' },
          metric: { type: 'keyword' },
          series_id: { type: 'keyword' },
          labels: { type: 'object', dynamic: true },
          count: { type: 'long' },
          sum: { type: 'double' },
          min: { type: 'double' },
          max: { type: 'double' },
          mean: { type: 'double' },
          p50: { type: 'double' },
          p95: { type: 'double' },
          p99: { type: 'double' },
          unit: { type: 'keyword' },
          revision: { type: 'long' },
          // DDSketch protobuf: kept for exact re-merging downstream, never searched.
          sketch: { type: 'binary' },
        },
      },
    },
    _meta: { managed_by: 'headroom exporters (elasticsearch sink)' },
  };
}

/**
 * ILM (Elasticsearch with x-pack): deletion `retentionDays` after an index is created. No rollover
 * action: indices roll daily by name (see above), and a rollover would break the replay overwrite.
 */
export function ilmPolicy(retentionDays: number): Record<string, unknown> {
  return {
    // No _meta: ILM policies accept it only from 7.14.
    policy: {
      phases: {
        hot: { min_age: '0ms', actions: {} },
        delete: { min_age: `${retentionDays}d`, actions: { delete: {} } },
      },
    },
  };
}

/** ISM (OpenSearch's index-management plugin): the same, attached to new indices by its ism_template. */
export function ismPolicy(prefix: string, retentionDays: number): Record<string, unknown> {
  return {
    policy: {
      description: `headroom exporters: delete ${prefix}-* ${retentionDays} days after creation`,
      default_state: 'hot',
      states: [
        { name: 'hot', actions: [], transitions: [{ state_name: 'delete', conditions: { min_index_age: `${retentionDays}d` } }] },
        { name: 'delete', actions: [{ delete: {} }], transitions: [] },
      ],
      ism_template: [{ index_patterns: [`${prefix}-*`], priority: 100 }],
    },
  };
}

/**
 * The sink's own retention sweep, on every server: the sink's indices whose day ended more than
 * `retentionDays` ago. Needed where no lifecycle engine runs (the Apache-2.0 Elasticsearch, an
 * OpenSearch without index management), and it also catches an old day's index created late by a
 * replay, which an age-since-creation policy would keep for another full retention.
 */
export function expiredIndices(prefix: string, names: readonly string[], retentionDays: number, now: number): string[] {
  const own = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-[a-z0-9][a-z0-9-]*-(\\d{4})\\.(\\d{2})\\.(\\d{2})$`);
  const cutoff = now - retentionDays * DAY_MS;
  return names.filter((name) => {
    const m = own.exec(name);
    if (!m) return false;
    const dayEnd = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) + DAY_MS;
    return dayEnd <= cutoff;
  });
}
