import { compress } from 'snappy';
import { WriteRequestType, type AggregateWindow, type PromTimeSeries } from '@headroom/contracts';

/**
 * Aggregate windows → Prometheus remote_write 1.0 time series, named exactly as the per-tenant scrape
 * endpoint names them (prometheus/exposition.ts), so a dashboard works on either path:
 * `<name>{quantile="0.5|0.95|0.99"}`, `<name>_sum`, `<name>_count`, `<name>_min`, `<name>_max`.
 *
 * Every sample carries the window's END (windowStart + windowMs) as its timestamp: the values
 * describe the interval that closes there, the way Prometheus stamps a range evaluation at its end,
 * so `avg_over_time(x[1m])` at T covers only windows complete by T, and the sample lands where a
 * scrape of the same window would have (just after it closed) — the two paths line up on a graph.
 */

const QUANTILES = [
  ['0.5', 'p50'],
  ['0.95', 'p95'],
  ['0.99', 'p99'],
] as const;

export interface EncodeOptions {
  /** `label`: add `tenantLabel="<tenant>"` to every series; `org-id`: no tenant label (the request's X-Scope-OrgID says it). */
  mode: 'label' | 'org-id';
  tenantLabel: string;
}

type Labels = [string, string][];

/**
 * The series' own labels as exported: `quantile` (the summary's own label) becomes
 * `exported_quantile`, and in label mode a series label named like the tenant label becomes
 * `exported_<label>` — Prometheus's `honor_labels: false` rule — so the authenticated tenant always wins.
 */
function baseLabels(w: AggregateWindow, tenant: string, opts: EncodeOptions): Labels {
  const out: Labels = [];
  for (const [k, v] of Object.entries(w.series.labels)) {
    // An empty value is the same as no label in Prometheus; receivers may refuse it.
    if (v === '') continue;
    if (k === 'quantile') out.push(['exported_quantile', v]);
    else if (opts.mode === 'label' && k === opts.tenantLabel) out.push([`exported_${k}`, v]);
    else out.push([k, v]);
  }
  if (opts.mode === 'label') out.push([opts.tenantLabel, tenant]);
  return out;
}

/** Sorted by name (the spec requires it), `__name__` first by byte order. */
function seriesLabels(name: string, base: Labels, extra?: [string, string]): { name: string; value: string }[] {
  const all: Labels = [['__name__', name], ...base];
  if (extra) all.push(extra);
  all.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return all.map(([n, value]) => ({ name: n, value }));
}

/**
 * One TimeSeries per exported series with all of its samples in time order (a receiver appends in
 * request order; Prometheus refuses a sample older than the series' last one).
 */
export function toTimeSeries(tenant: string, windows: readonly AggregateWindow[], opts: EncodeOptions): PromTimeSeries[] {
  const byKey = new Map<string, PromTimeSeries>();
  const add = (name: string, base: Labels, extra: [string, string] | undefined, value: number, timestamp: number) => {
    const labels = seriesLabels(name, base, extra);
    const key = JSON.stringify(labels);
    const ts = byKey.get(key) ?? byKey.set(key, { labels, samples: [] }).get(key)!;
    ts.samples.push({ value, timestamp });
  };
  const ordered = [...windows].sort((a, b) => a.windowStart + a.windowMs - (b.windowStart + b.windowMs));
  for (const w of ordered) {
    const t = w.windowStart + w.windowMs;
    const base = baseLabels(w, tenant, opts);
    const name = w.series.name;
    for (const [quantile, field] of QUANTILES) add(name, base, ['quantile', quantile], w[field], t);
    add(`${name}_sum`, base, undefined, w.sum, t);
    add(`${name}_count`, base, undefined, w.count, t);
    add(`${name}_min`, base, undefined, w.min, t);
    add(`${name}_max`, base, undefined, w.max, t);
  }
  return [...byKey.values()];
}

export const SAMPLES_PER_WINDOW = 7;

/** Splits series into requests of at most `maxSamples` samples (a series' samples may straddle two requests, in order). */
export function chunkBySamples(series: readonly PromTimeSeries[], maxSamples: number): PromTimeSeries[][] {
  const chunks: PromTimeSeries[][] = [];
  let current: PromTimeSeries[] = [];
  let size = 0;
  for (const ts of series) {
    for (let i = 0; i < ts.samples.length; ) {
      const room = maxSamples - size;
      const take = ts.samples.slice(i, i + room);
      current.push({ labels: ts.labels, samples: take });
      size += take.length;
      i += take.length;
      if (size >= maxSamples) {
        chunks.push(current);
        current = [];
        size = 0;
      }
    }
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/** A WriteRequest body: protobuf, then snappy's block format (what remote_write 1.0 requires). */
export async function encodeWriteRequest(series: readonly PromTimeSeries[]): Promise<Buffer> {
  const bytes = WriteRequestType.encode(WriteRequestType.fromObject({ timeseries: series })).finish();
  // snappy's async compress runs on libuv's thread pool, off the event loop the consumers share.
  return compress(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}
