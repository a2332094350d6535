import type { StoredSeries } from './query.repository';

/** A window statistic exposed as a sample, per apps/exporters/src/prometheus/exposition.ts. */
export type ViewField = 'p50' | 'p95' | 'p99' | 'sum' | 'count' | 'min' | 'max';

/**
 * One Prometheus series derived from a stored one, named exactly as the exporters' `/metrics` names
 * it (a summary `name{quantile="0.5|0.95|0.99"}`, `name_sum`, `name_count`, `name_min`, `name_max`;
 * a series label called `quantile` becomes `exported_quantile`), so a Grafana panel written against
 * a Prometheus scraping the exporter works unchanged against this API.
 */
export interface SeriesView {
  series: StoredSeries;
  field: ViewField;
  /** Labels with `__name__`. */
  metric: Record<string, string>;
}

const QUANTILES: readonly [string, ViewField][] = [
  ['0.5', 'p50'],
  ['0.95', 'p95'],
  ['0.99', 'p99'],
];
const SUFFIXES: readonly [string, ViewField][] = [
  ['_sum', 'sum'],
  ['_count', 'count'],
  ['_min', 'min'],
  ['_max', 'max'],
];

function exportedLabels(labels: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) out[k === 'quantile' ? 'exported_quantile' : k] = v;
  return out;
}

export function viewsOf(series: StoredSeries): SeriesView[] {
  const labels = exportedLabels(series.labels);
  const views: SeriesView[] = QUANTILES.map(([quantile, field]) => ({ series, field, metric: { __name__: series.name, ...labels, quantile } }));
  for (const [suffix, field] of SUFFIXES) views.push({ series, field, metric: { __name__: `${series.name}${suffix}`, ...labels } });
  return views;
}

/** The stored names whose views may be called `name`. */
export function storedNamesFor(name: string): string[] {
  const names = [name];
  for (const [suffix] of SUFFIXES) if (name.endsWith(suffix) && name.length > suffix.length) names.push(name.slice(0, -suffix.length));
  return names;
}
