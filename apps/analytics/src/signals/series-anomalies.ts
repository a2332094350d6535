import type { AggregateWindow, Signal } from '@headroom/contracts';
import { detectorRegistry, type SeasonalDetector } from '@headroom/detectors';

export interface SeriesAnomaliesOptions {
  /** Scores at or above this become signals (the detector's documented alert level is 0.6). */
  threshold: number;
  /** Detectors kept in memory (≈1.2 KB each); the least recently fed series is dropped beyond this. */
  maxSeries: number;
}

/**
 * One streaming seasonal detector per tenant and series, fed the p95 of each closed window (a
 * latency-like series is judged by its tail). A window scoring at or above the threshold becomes an
 * anomaly signal with the detector's explanation. Tenants never share a detector.
 */
export class SeriesAnomalies {
  private readonly detectors = new Map<string, SeasonalDetector>();

  constructor(private readonly opts: SeriesAnomaliesOptions) {}

  observe(tenant: string, w: AggregateWindow): Signal | undefined {
    const key = `${tenant}\u0000${w.seriesId}`;
    let detector = this.detectors.get(key);
    if (detector) {
      this.detectors.delete(key); // re-inserted below: Map order doubles as recency
    } else {
      detector = detectorRegistry.seasonal.create(w.unit ? { unit: w.unit } : {});
      if (this.detectors.size >= this.opts.maxSeries) this.detectors.delete(this.detectors.keys().next().value as string);
    }
    this.detectors.set(key, detector);
    const at = w.windowStart + w.windowMs;
    const score = detector.update(at, w.p95);
    if (score < this.opts.threshold) return undefined;
    return {
      kind: 'anomaly',
      detector: 'seasonal',
      series: w.series,
      timestamp: at,
      value: w.p95,
      score: Math.min(1, Math.max(0, score)),
      explanation: `p95 ${detector.explain()}`.slice(0, 500),
    };
  }

  forgetTenant(tenant: string): void {
    for (const key of this.detectors.keys()) if (key.startsWith(`${tenant}\u0000`)) this.detectors.delete(key);
  }

  size(): number {
    return this.detectors.size;
  }
}
