import type { AggregateWindow, Signal } from '@headroom/contracts';
import { detectorRegistry, type SeasonalDetector } from '@headroom/detectors';

export interface SeriesAnomaliesOptions {
  /** Scores at or above this become signals (the detector's documented alert level is 0.6). */
  threshold: number;
}

/**
 * One streaming seasonal detector per tenant and series, fed the p95 of each closed window (a
 * latency-like series is judged by its tail). A window scoring at or above the threshold becomes an
 * anomaly signal with the detector's explanation. Tenants never share a detector, and each has its
 * own budget of detectors (`maxDetectorSeries`): a tenant's series flood evicts only its own
 * least recently fed baselines, never another tenant's.
 */
export class SeriesAnomalies {
  private readonly byTenant = new Map<string, Map<string, SeasonalDetector>>();

  constructor(private readonly opts: SeriesAnomaliesOptions) {}

  observe(tenant: string, w: AggregateWindow, maxSeries: number): Signal | undefined {
    if (maxSeries <= 0) return undefined;
    let detectors = this.byTenant.get(tenant);
    if (!detectors) this.byTenant.set(tenant, (detectors = new Map()));
    let detector = detectors.get(w.seriesId);
    if (detector) {
      detectors.delete(w.seriesId); // re-inserted below: Map order doubles as recency
    } else {
      detector = detectorRegistry.seasonal.create(w.unit ? { unit: w.unit } : {});
      while (detectors.size >= maxSeries) detectors.delete(detectors.keys().next().value as string);
    }
    detectors.set(w.seriesId, detector);
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
    this.byTenant.delete(tenant);
  }

  size(tenant?: string): number {
    if (tenant !== undefined) return this.byTenant.get(tenant)?.size ?? 0;
    let n = 0;
    for (const d of this.byTenant.values()) n += d.size;
    return n;
  }
}
