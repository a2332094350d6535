/**
 * How one Headroom window statistic is named once it reaches a Prometheus-compatible store. The
 * scrape endpoint (../prometheus/exposition.ts) writes these names today; the remote_write sink and
 * the dashboards must agree with it, so the names live here once and both sides can import them.
 *
 * Per metric `m`: `m{quantile="0.5"|"0.95"|"0.99"}`, and gauges `m_sum`, `m_count`, `m_min`, `m_max`,
 * one sample per closed window.
 */
export const WINDOW_QUANTILES = [
  { quantile: '0.5', field: 'p50' },
  { quantile: '0.95', field: 'p95' },
  { quantile: '0.99', field: 'p99' },
] as const;

export type WindowQuantile = (typeof WINDOW_QUANTILES)[number]['quantile'];

export const WINDOW_SUFFIXES = { sum: '_sum', count: '_count', min: '_min', max: '_max' } as const;

export type WindowStatistic = keyof typeof WINDOW_SUFFIXES;

/** The series name of a window statistic: `windowSeries('plays', 'sum')` is `plays_sum`. */
export function windowSeries(metric: string, stat: WindowStatistic): string {
  return `${metric}${WINDOW_SUFFIXES[stat]}`;
}

/** A selector for one quantile of a metric, with extra matchers (already written as PromQL). */
export function quantileSelector(metric: string, quantile: WindowQuantile, matchers: string[] = []): string {
  return `${metric}{${[`quantile="${quantile}"`, ...matchers].join(', ')}}`;
}
