import type { ExposedWindow } from './windows.repository';
import { windowEnd } from './series-ledger';

/**
 * The two formats Prometheus scrapes. Text 0.0.4 allows one sample per series per page ("each line
 * must have a unique combination of a metric name and labels"), so it carries each series' newest
 * window only. OpenMetrics 1.0 allows several MetricPoints per Metric with increasing timestamps, so
 * it carries every window applied within the lookback: a scraper whose interval differs from the
 * window length still receives every window, each at its own timestamp.
 *
 * Written here rather than with prom-client: its writer (15.x) emits `name{labels} value` only, with
 * no sample timestamp (exemplars aside) and one value per label set, and its registries model one
 * process's live values, not a tenant's history of closed windows.
 */
export type ExpositionFormat = 'text' | 'openmetrics';

export const TEXT_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
export const openMetricsContentType = (version = '1.0.0') => `application/openmetrics-text; version=${version}; charset=utf-8`;

export interface Negotiated {
  format: ExpositionFormat;
  contentType: string;
}

/**
 * Picks the format from an `Accept` header as Prometheus's own client libraries do: OpenMetrics only
 * when the client names it (version 1.0.0 or 0.0.1, which share this syntax) at a quality at least
 * that of the text format; the text format otherwise, also for `*\/*` and no header at all.
 */
export function negotiateFormat(accept: string | undefined): Negotiated {
  let openMetrics: { q: number; version: string } | undefined;
  let textQ = accept ? 0 : 1;
  for (const range of (accept ?? '').split(',')) {
    const [type, ...params] = range.split(';').map((p) => p.trim());
    const param = (name: string) => params.find((p) => p.toLowerCase().startsWith(`${name}=`))?.slice(name.length + 1);
    const q = param('q') === undefined ? 1 : Number(param('q'));
    if (!Number.isFinite(q) || q <= 0) continue;
    const version = param('version');
    const mediaType = type.toLowerCase();
    if (mediaType === 'application/openmetrics-text' && (version === undefined || version === '1.0.0' || version === '0.0.1')) {
      if (!openMetrics || q > openMetrics.q) openMetrics = { q, version: version ?? '1.0.0' };
    } else if ((mediaType === 'text/plain' && (version === undefined || version === '0.0.4')) || mediaType === 'text/*' || mediaType === '*/*') {
      textQ = Math.max(textQ, q);
    }
  }
  if (openMetrics && openMetrics.q >= textQ) return { format: 'openmetrics', contentType: openMetricsContentType(openMetrics.version) };
  return { format: 'text', contentType: TEXT_CONTENT_TYPE };
}

export interface Exposition {
  text: string;
  /** Series (label sets) written, after dropping colliding families. */
  series: number;
  /** Samples written. */
  samples: number;
  /** Metric names left out because one of their derived names clashes with another family. */
  collisions: string[];
}

const QUANTILES = [
  { quantile: '0.5', field: 'p50' },
  { quantile: '0.95', field: 'p95' },
  { quantile: '0.99', field: 'p99' },
] as const;

type Labels = [string, string][];
interface Family {
  /** The family name in OpenMetrics (a counter's samples add `_total`). */
  name: string;
  type: 'gauge' | 'counter';
  help: string;
  samples: { labels: Labels; points: { value: number; ms: number }[] }[];
}

/** Every name a metric's families use, as sample names and as OpenMetrics family names. */
export function derivedNames(name: string): string[] {
  return [name, `${name}_count`, `${name}_sum`, `${name}_min`, `${name}_max`, `${name}_points`, `${name}_points_total`, `${name}_points_sum`, `${name}_points_sum_total`];
}

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const formatLabels = (labels: Labels) => (labels.length ? `{${labels.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}` : '');
const formatValue = (v: number) => (Number.isNaN(v) ? 'NaN' : v === Infinity ? '+Inf' : v === -Infinity ? '-Inf' : String(v));
// Text 0.0.4 stamps in integer milliseconds; OpenMetrics in seconds.
const formatTimestamp = (ms: number, format: ExpositionFormat) => (format === 'text' ? String(ms) : (ms / 1000).toFixed(3));

/** `quantile` is this exposition's own label; a series label of that name is kept as `exported_quantile`, as Prometheus does on a clash. */
function exportedLabels(labels: Record<string, string>): Labels {
  return Object.keys(labels)
    .sort()
    .map((k): [string, string] => [k === 'quantile' ? 'exported_quantile' : k, labels[k]]);
}

function familiesOf(name: string, series: { labels: Labels; windows: ExposedWindow[] }[]): Family[] {
  const first = series[0].windows[0];
  const unit = first.unit ? ` (${first.unit})` : '';
  const per = `over each closed ${first.windowMs / 1000}s window, stamped at the window's end`;
  const gauge = (suffix: string, what: string, value: (w: ExposedWindow) => number): Family => ({
    name: `${name}${suffix}`,
    type: 'gauge',
    help: `${what} of ${name}${unit} ${per}.`,
    samples: series.map((s) => ({ labels: s.labels, points: s.windows.map((w) => ({ value: value(w), ms: windowEnd(w) })) })),
  });
  const counter = (suffix: string, what: string, value: (w: ExposedWindow) => number | null): Family => ({
    name: `${name}${suffix}`,
    type: 'counter',
    help: `${what} of ${name}${unit} since the series started (kept in PostgreSQL across restarts), stamped at the end of the window that brought it there.`,
    samples: series.map((s) => ({
      labels: s.labels,
      points: s.windows.flatMap((w) => {
        const v = value(w);
        return v === null ? [] : [{ value: v, ms: windowEnd(w) }];
      }),
    })),
  });
  return [
    {
      name,
      type: 'gauge',
      help: `Quantiles (0.5, 0.95, 0.99) of ${name}${unit} ${per}.`,
      samples: QUANTILES.flatMap((q) =>
        series.map((s) => ({ labels: [['quantile', q.quantile], ...s.labels] as Labels, points: s.windows.map((w) => ({ value: w[q.field], ms: windowEnd(w) })) })),
      ),
    },
    gauge('_count', 'Points', (w) => w.count),
    gauge('_sum', 'Sum of the points', (w) => w.sum),
    gauge('_min', 'Minimum', (w) => w.min),
    gauge('_max', 'Maximum', (w) => w.max),
    counter('_points', 'Points counted', (w) => w.pointsTotal),
    counter('_points_sum', 'Sum of the points counted', (w) => w.pointsSumTotal),
  ];
}

function writeFamily(family: Family, format: ExpositionFormat, out: string[]): number {
  const sampleName = family.type === 'counter' ? `${family.name}_total` : family.name;
  // Text 0.0.4 names a family by its samples' name; OpenMetrics by the name without `_total`.
  const familyName = format === 'text' ? sampleName : family.name;
  const help = format === 'text' ? family.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n') : escapeLabel(family.help);
  out.push(`# HELP ${familyName} ${help}`, `# TYPE ${familyName} ${family.type}`);
  let written = 0;
  for (const s of family.samples) {
    const labels = formatLabels(s.labels);
    for (const p of s.points) {
      out.push(`${sampleName}${labels} ${formatValue(p.value)} ${formatTimestamp(p.ms, format)}`);
      written += 1;
    }
  }
  return written;
}

/**
 * Renders one tenant's windows. Per metric name, each sample stamped with its window's end:
 * gauges of the window — `name{quantile="0.5|0.95|0.99"}`, `name_count`, `name_sum`, `name_min`,
 * `name_max` — and counters since the series started — `name_points_total` (points) and
 * `name_points_sum_total` (their sum) — for `rate()`. The text format keeps each series' newest
 * window; OpenMetrics writes every window given, oldest first.
 */
export function renderExposition(windows: readonly ExposedWindow[], format: ExpositionFormat): Exposition {
  // name → label signature → the windows of one series id (two ids with one name and labels would repeat samples: the newer id wins).
  const byName = new Map<string, Map<string, { labels: Labels; seriesId: string; windows: ExposedWindow[] }>>();
  const newestOf = new Map<string, number>();
  for (const w of windows) newestOf.set(w.seriesId, Math.max(newestOf.get(w.seriesId) ?? -Infinity, windowEnd(w)));
  for (const w of windows) {
    const labels = exportedLabels(w.series.labels);
    const signature = JSON.stringify(labels);
    const family = byName.get(w.series.name) ?? byName.set(w.series.name, new Map()).get(w.series.name)!;
    const held = family.get(signature);
    if (!held || (held.seriesId !== w.seriesId && newestOf.get(held.seriesId)! < newestOf.get(w.seriesId)!)) {
      family.set(signature, { labels, seriesId: w.seriesId, windows: [w] });
    } else if (held.seriesId === w.seriesId) {
      held.windows.push(w);
    }
  }

  const out: string[] = [];
  const claimed = new Set<string>();
  const collisions: string[] = [];
  let series = 0;
  let samples = 0;
  for (const name of [...byName.keys()].sort()) {
    const names = derivedNames(name);
    if (names.some((n) => claimed.has(n))) {
      // e.g. `req` and `req_sum` both exist: the second would repeat a family or sample name, which parsers reject.
      collisions.push(name);
      continue;
    }
    names.forEach((n) => claimed.add(n));
    const entries = [...byName.get(name)!.values()]
      .sort((a, b) => (a.labels.join() < b.labels.join() ? -1 : 1))
      .map((e) => {
        // Increasing timestamps, one window per end time (OpenMetrics requires it); the text format keeps the newest.
        const ordered = [...new Map(e.windows.sort((a, b) => windowEnd(a) - windowEnd(b)).map((w) => [windowEnd(w), w])).values()];
        return { labels: e.labels, windows: format === 'text' ? ordered.slice(-1) : ordered };
      });
    series += entries.length;
    for (const family of familiesOf(name, entries)) samples += writeFamily(family, format, out);
  }
  if (format === 'openmetrics') out.push('# EOF');
  return { text: out.length ? `${out.join('\n')}\n` : '', series, samples, collisions };
}
