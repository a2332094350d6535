import type { AggregateWindow, DetectorSetting, Series, SeriesSelector, WindowStatistic } from '@headroom/contracts';
import { detectorRegistry, type ConfigIssue, type DetectorType } from '@headroom/detectors';

/**
 * analytics' defaults for the detector configs, where the library's suit points rather than 10 s
 * windows: drift compares the last 10 min with the first hour (5 bins keep the PSI of two samples of
 * one stable process near 0.08, well under 0.2); a per-tenant forest of 50 trees on 128-vector
 * samples of the last ~3 h, rebuilt every ~10 min, keeps its snapshot near 0.3 MB.
 */
const ANALYTICS_DEFAULTS: Partial<Record<DetectorType, Record<string, unknown>>> = {
  drift: { referenceSize: 360, currentSize: 60, bins: 5 },
  'isolation-forest': { trees: 50, sampleSize: 128, windowSize: 1024, retrainEvery: 64 },
};

/** A tenant's setting checked against its detector: the config it runs with and its state's identity. */
export interface ResolvedSetting {
  setting: DetectorSetting;
  /** The detector's full config (library defaults < analytics' < the setting's params). */
  config: Record<string, unknown>;
  /** State identity: settings that would learn the same model share none of their state by accident. */
  id: string;
}

/**
 * Resolves a tenant's settings: each setting's params are validated by its detector's own
 * `validate()` (unknown keys too); a setting with problems is left out and its issues returned.
 */
export function resolveSettings(settings: readonly DetectorSetting[]): { resolved: ResolvedSetting[]; issues: (ConfigIssue & { index: number })[] } {
  const resolved: ResolvedSetting[] = [];
  const issues: (ConfigIssue & { index: number })[] = [];
  const seen = new Map<string, number>();
  settings.forEach((setting, index) => {
    const factory = detectorRegistry[setting.type];
    const params = setting.params ?? {};
    const defaults = factory.defaultConfig as unknown as Record<string, unknown>;
    const config: Record<string, unknown> = { ...defaults, ...ANALYTICS_DEFAULTS[setting.type], ...params };
    if (setting.type === 'isolation-forest') config.dimensions = setting.series.length;
    const own: ConfigIssue[] = Object.keys(params)
      .filter((k) => !(k in defaults) || (setting.type === 'isolation-forest' && k === 'dimensions'))
      .map((k) => ({ path: `params.${k}`, message: k === 'dimensions' ? 'is the number of series' : `is not a ${setting.type} setting` }));
    for (const i of factory.validate(config as never)) own.push({ path: `params.${i.path}`, message: i.message });
    if (own.length) {
      for (const i of own) issues.push({ ...i, index });
      return;
    }
    // The model depends on its type, statistic, config and (for a forest) the series; thresholds and cooldowns do not.
    const model = setting.type === 'isolation-forest' ? [setting.statistic, config, setting.series] : [setting.statistic, config];
    const base = `${setting.type}:${setting.statistic}:${fingerprint(JSON.stringify(model))}`;
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    resolved.push({ setting, config, id: n === 1 ? base : `${base}#${n}` });
  });
  return { resolved, issues };
}

/** FNV-1a, 32 bits, hex: short and stable across processes. */
export function fingerprint(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

export function selects(selector: SeriesSelector, series: Series): boolean {
  if (selector.metric !== series.name) return false;
  for (const [k, v] of Object.entries(selector.labels ?? {})) if (series.labels[k] !== v) return false;
  return true;
}

/** The setting follows this series (a seasonal setting without series follows every one). */
export function follows(setting: DetectorSetting, series: Series): boolean {
  if (!setting.series) return true;
  return setting.series.some((s) => selects(s, series));
}

export function statisticOf(w: Pick<AggregateWindow, 'count' | 'sum' | 'min' | 'max' | 'p50' | 'p95' | 'p99'>, s: WindowStatistic): number {
  switch (s) {
    case 'mean':
      return w.count > 0 ? w.sum / w.count : Number.NaN;
    default:
      return w[s];
  }
}
