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

type Label = { name: string; value: string };

const byName = (a: Label, b: Label) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/**
 * The series' own labels as exported, sorted by name: `quantile` (the summary's own label) becomes
 * `exported_quantile`, and in label mode a series label named like the tenant label becomes
 * `exported_<label>` — Prometheus's `honor_labels: false` rule — so the authenticated tenant always wins.
 */
function baseLabels(w: AggregateWindow, tenant: string, opts: EncodeOptions): Label[] {
  const out: Label[] = [];
  for (const [k, v] of Object.entries(w.series.labels)) {
    // An empty value is the same as no label in Prometheus; receivers may refuse it.
    if (v === '') continue;
    if (k === 'quantile') out.push({ name: 'exported_quantile', value: v });
    else if (opts.mode === 'label' && k === opts.tenantLabel) out.push({ name: `exported_${k}`, value: v });
    else out.push({ name: k, value: v });
  }
  if (opts.mode === 'label') out.push({ name: opts.tenantLabel, value: tenant });
  return out.sort(byName);
}

/** `base` plus `extra`, still sorted (the spec requires sorted names; `__name__` is not always first: A–Z sort before `_`). */
function withLabels(base: readonly Label[], ...extra: Label[]): Label[] {
  const out = [...base];
  for (const l of extra) {
    let i = 0;
    while (i < out.length && out[i].name < l.name) i++;
    out.splice(i, 0, l);
  }
  return out;
}

/**
 * One TimeSeries per exported series with all of its samples in time order (a receiver appends in
 * request order; Prometheus refuses a sample older than the series' last one).
 */
export function toTimeSeries(tenant: string, windows: readonly AggregateWindow[], opts: EncodeOptions): PromTimeSeries[] {
  const byKey = new Map<string, PromTimeSeries>();
  const ordered = [...windows].sort((a, b) => a.windowStart + a.windowMs - (b.windowStart + b.windowMs));
  for (const w of ordered) {
    const t = w.windowStart + w.windowMs;
    const base = baseLabels(w, tenant, opts);
    // Labels are sorted, so this string identifies the series' label set.
    const baseKey = base.map((l) => `${l.name}\u0000${l.value}`).join('\u0001');
    const name = w.series.name;
    const add = (metric: string, value: number, quantile?: string) => {
      const key = `${metric}\u0002${quantile ?? ''}\u0002${baseKey}`;
      let ts = byKey.get(key);
      if (!ts) {
        const extra: Label[] = [{ name: '__name__', value: metric }];
        if (quantile !== undefined) extra.push({ name: 'quantile', value: quantile });
        ts = { labels: withLabels(base, ...extra), samples: [] };
        byKey.set(key, ts);
      }
      ts.samples.push({ value, timestamp: t });
    };
    for (const [quantile, field] of QUANTILES) add(name, w[field], quantile);
    add(`${name}_sum`, w.sum);
    add(`${name}_count`, w.count);
    add(`${name}_min`, w.min);
    add(`${name}_max`, w.max);
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
  // Plain objects of the message's shape encode as they are (fromObject would copy them first).
  const bytes = WriteRequestType.encode({ timeseries: series }).finish();
  // snappy's async compress runs on libuv's thread pool, off the event loop the consumers share.
  return compress(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}
