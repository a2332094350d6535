import { Gauge, Registry, Summary, type SummaryConfiguration } from 'prom-client';
import type { AggregateWindow } from '@headroom/contracts';

type SampleLabels = Record<string, string>;
interface Sample {
  metricName: string;
  labels: SampleLabels;
  value: number;
}

const QUANTILES: readonly { quantile: string; field: 'p50' | 'p95' | 'p99' }[] = [
  { quantile: '0.5', field: 'p50' },
  { quantile: '0.95', field: 'p95' },
  { quantile: '0.99', field: 'p99' },
];

/**
 * A prom-client summary whose quantiles, sum and count were computed upstream (analytics' sketches
 * over one window). prom-client can only derive quantiles from its own observations, so `get()`
 * returns the precomputed samples; the registry still writes HELP/TYPE and escapes the labels.
 */
class WindowSummary extends Summary<string> {
  private readonly samples: Sample[] = [];
  private readonly family: string;

  constructor(config: SummaryConfiguration<string>) {
    super(config);
    this.family = config.name;
  }

  add(labels: SampleLabels, w: AggregateWindow): void {
    for (const q of QUANTILES) this.samples.push({ metricName: this.family, labels: { quantile: q.quantile, ...labels }, value: w[q.field] });
    this.samples.push({ metricName: `${this.family}_sum`, labels, value: w.sum });
    this.samples.push({ metricName: `${this.family}_count`, labels, value: w.count });
  }

  override async get() {
    const base = await super.get();
    return { ...base, values: this.samples };
  }
}

export interface Exposition {
  text: string;
  contentType: string;
  /** Series written (after dropping colliding families). */
  series: number;
  /** Metric names left out because their `_sum`/`_count`/`_min`/`_max` would clash with another family. */
  collisions: string[];
}

/** `quantile` is the summary's own label; a series label of that name is kept as `exported_quantile`, as Prometheus does on a clash. */
function exportedLabels(labels: Record<string, string>): SampleLabels {
  const out: SampleLabels = {};
  for (const [k, v] of Object.entries(labels)) out[k === 'quantile' ? 'exported_quantile' : k] = v;
  return out;
}

function labelSignature(labels: SampleLabels): string {
  return JSON.stringify(Object.keys(labels).sort().map((k) => [k, labels[k]]));
}

function help(name: string, first: AggregateWindow, what: string): string {
  const unit = first.unit ? ` (${first.unit})` : '';
  return `${what} of ${name}${unit} over the latest closed ${first.windowMs / 1000}s window, computed by Headroom.`;
}

/**
 * Renders one tenant's latest windows in the Prometheus text format with a registry of its own
 * (never the service's registry, which holds no tenant data). Per metric name: a summary
 * (`quantile` 0.5/0.95/0.99, `_sum`, `_count`) and `_min`/`_max` gauges. No sample timestamps:
 * prom-client 15 cannot write them, so Prometheus stamps samples with the scrape time.
 */
export async function renderExposition(windows: readonly AggregateWindow[]): Promise<Exposition> {
  const byName = new Map<string, Map<string, { labels: SampleLabels; window: AggregateWindow }>>();
  for (const w of windows) {
    const labels = exportedLabels(w.series.labels);
    const family = byName.get(w.series.name) ?? byName.set(w.series.name, new Map()).get(w.series.name)!;
    const signature = labelSignature(labels);
    const held = family.get(signature);
    // Two series ids with the same name and labels would be duplicate samples: keep the newest.
    if (!held || held.window.windowStart < w.windowStart) family.set(signature, { labels, window: w });
  }

  const registry = new Registry();
  const claimed = new Set<string>();
  const collisions: string[] = [];
  let series = 0;
  for (const name of [...byName.keys()].sort()) {
    const names = [name, `${name}_sum`, `${name}_count`, `${name}_min`, `${name}_max`];
    if (names.some((n) => claimed.has(n))) {
      // e.g. `req` and `req_sum` both exist: the second family would repeat sample names, which parsers reject.
      collisions.push(name);
      continue;
    }
    names.forEach((n) => claimed.add(n));
    const entries = [...byName.get(name)!.values()];
    const labelNames = [...new Set(entries.flatMap((e) => Object.keys(e.labels)))].sort();
    const first = entries[0].window;
    const summary = new WindowSummary({ name, help: help(name, first, 'Quantiles, sum and count'), labelNames, registers: [registry] });
    const min = new Gauge({ name: `${name}_min`, help: help(name, first, 'Minimum'), labelNames, registers: [registry] });
    const max = new Gauge({ name: `${name}_max`, help: help(name, first, 'Maximum'), labelNames, registers: [registry] });
    for (const { labels, window } of entries) {
      summary.add(labels, window);
      min.set(labels, window.min);
      max.set(labels, window.max);
      series += 1;
    }
  }
  return { text: await registry.metrics(), contentType: registry.contentType, series, collisions };
}
