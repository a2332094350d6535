import type { AggregateWindow, DetectorSetting, Signal } from '@headroom/contracts';
import {
  detectorRegistry,
  formatNumber,
  normalTail,
  type DriftMonitor,
  type DriftMonitorState,
  type HoltWintersForecaster,
  type HoltWintersState,
  type IsolationForest,
  type IsolationForestState,
  type SeasonalDetector,
  type SeasonalDetectorState,
} from '@headroom/detectors';
import { follows, selects, statisticOf, type ResolvedSetting } from './detector-settings';

/** A closed window as the detectors see it: whose, from which partition. */
export interface FedWindow {
  tenant: string;
  partition: number;
  window: AggregateWindow;
}

/** What a unit saves: the detector's own snapshot plus the stream bookkeeping around it. */
export interface UnitSnapshot {
  /** Start of the last window fed: a replay skips everything up to it. */
  fedUntil: number;
  /** Windows (a forest: vectors) fed in all. */
  fed: number;
  /** Windows since the last signal (cooldowns). */
  sinceSignal: number;
  /** The series' unit, for explanations ("480 ms"). */
  unit?: string;
  model: SeasonalDetectorState | HoltWintersState | DriftMonitorState | IsolationForestState;
}

export interface StoredUnit {
  settingId: string;
  /** '' for a tenant-level detector (the forest). */
  seriesId: string;
  partition: number;
  snapshot: UnitSnapshot;
}

type Model = SeasonalDetector | HoltWintersForecaster | DriftMonitor | IsolationForest;

interface Unit {
  resolved: ResolvedSetting;
  seriesId: string;
  partition: number;
  model: Model;
  fedUntil: number;
  fed: number;
  sinceSignal: number;
  unit?: string;
  /** Fed since it was last saved. */
  dirty: boolean;
  /** A forest's vectors being assembled: window start → one window per selected series. */
  pending?: Map<number, (AggregateWindow | undefined)[]>;
}

interface TenantUnits {
  settingsKey: string;
  settings: ResolvedSetting[];
  units: Map<string, Unit>;
}

export interface StreamDetectorsOptions {
  /** Default minScore of seasonal settings (analytics' ANOMALY_THRESHOLD). */
  anomalyThreshold: number;
  windowMs: number;
}

const unitKey = (settingId: string, seriesId: string) => `${settingId}\u0000${seriesId}`;
/** `sinceSignal` of a unit that never signalled: any cooldown has passed (finite, so it survives JSON). */
const NEVER = 1e9;
/** A forest waits this many instants at most for the rest of a vector. */
const MAX_PENDING_INSTANTS = 16;

/**
 * Every detector of every tenant, fed closed windows in order. A unit is one detector instance: per
 * series for seasonal, Holt-Winters and drift, per tenant for a forest (its vector is the same
 * instant's windows of the selected series). Units are created from the tenant's resolved settings
 * through the detectors' registry; tenants never share one, and each tenant's per-series units are
 * bounded by its `maxDetectorSeries` (its least recently fed are dropped first, never another
 * tenant's). No I/O: snapshots go out and come back through `snapshotUnits` / `restore`.
 */
export class StreamDetectors {
  private readonly byTenant = new Map<string, TenantUnits>();

  constructor(private readonly opts: StreamDetectorsOptions) {}

  /** (Re)binds a tenant to its settings; units of settings that are gone are dropped. */
  configure(tenant: string, settings: ResolvedSetting[]): void {
    const key = settings.map((s) => `${s.id}|${JSON.stringify(s.setting)}`).join('\n');
    const current = this.byTenant.get(tenant);
    if (current?.settingsKey === key) return;
    const ids = new Set(settings.map((s) => s.id));
    const units = new Map<string, Unit>();
    for (const [k, u] of current?.units ?? []) {
      const r = settings.find((s) => s.id === u.resolved.id);
      if (r && ids.has(r.id)) units.set(k, { ...u, resolved: r });
    }
    this.byTenant.set(tenant, { settingsKey: key, settings, units });
  }

  hasTenant(tenant: string): boolean {
    return this.byTenant.has(tenant);
  }

  /**
   * Feeds one closed window to every unit of its tenant that follows its series, in window order per
   * series. A window at or before a unit's `fedUntil` is skipped (a replay after a restore). Returns
   * the signals it raised.
   */
  feed(w: FedWindow, maxSeries: number): Signal[] {
    const t = this.byTenant.get(w.tenant);
    if (!t) return [];
    const out: Signal[] = [];
    for (const r of t.settings) {
      const s = r.setting;
      if (s.type === 'isolation-forest') {
        const dim = s.series.findIndex((sel) => selects(sel, w.window.series));
        if (dim >= 0) this.feedForest(t, r, s, dim, w, out);
        continue;
      }
      if (!follows(s, w.window.series)) continue;
      const unit = this.seriesUnit(t, r, w, maxSeries);
      if (!unit || w.window.windowStart <= unit.fedUntil) continue;
      const value = statisticOf(w.window, s.statistic);
      unit.fedUntil = w.window.windowStart;
      unit.dirty = true;
      if (!Number.isFinite(value)) continue;
      unit.fed++;
      unit.sinceSignal = Math.min(NEVER, unit.sinceSignal + 1);
      const signal = this.step(unit, s, value, w.window);
      if (signal) {
        unit.sinceSignal = 0;
        out.push(signal);
      }
    }
    return out;
  }

  private seriesUnit(t: TenantUnits, r: ResolvedSetting, w: FedWindow, maxSeries: number): Unit | undefined {
    if (maxSeries <= 0) return undefined;
    const key = unitKey(r.id, w.window.seriesId);
    let unit = t.units.get(key);
    if (unit) {
      t.units.delete(key); // re-inserted below: Map order doubles as recency
    } else {
      unit = { resolved: r, seriesId: w.window.seriesId, partition: w.partition, model: this.create(r, w.window.unit), fedUntil: -Infinity, fed: 0, sinceSignal: NEVER, unit: w.window.unit, dirty: true };
      let perSeries = 0;
      for (const u of t.units.values()) if (u.seriesId !== '') perSeries++;
      for (const [k, u] of t.units) {
        if (perSeries < maxSeries) break;
        if (u.seriesId === '') continue;
        t.units.delete(k);
        perSeries--;
      }
    }
    unit.partition = w.partition;
    t.units.set(key, unit);
    return unit;
  }

  private create(r: ResolvedSetting, unit?: string, state?: UnitSnapshot['model']): Model {
    const c = r.config;
    switch (r.setting.type) {
      case 'seasonal':
        return detectorRegistry.seasonal.create({ ...c, ...(unit ? { unit } : {}) }, state as SeasonalDetectorState | undefined);
      case 'holt-winters':
        return detectorRegistry['holt-winters'].create(c, state as HoltWintersState | undefined);
      case 'drift':
        return detectorRegistry.drift.create(c, state as DriftMonitorState | undefined);
      case 'isolation-forest':
        return detectorRegistry['isolation-forest'].create(c, state as IsolationForestState | undefined);
    }
  }

  private step(unit: Unit, s: Exclude<DetectorSetting, { type: 'isolation-forest' }>, value: number, w: AggregateWindow): Signal | undefined {
    const at = w.windowStart + w.windowMs;
    const base = { series: w.series, timestamp: at, value, statistic: s.statistic };
    switch (s.type) {
      case 'seasonal': {
        const d = unit.model as SeasonalDetector;
        const score = d.update(at, value);
        if (score < (s.minScore ?? this.opts.anomalyThreshold)) return undefined;
        return { kind: 'anomaly', detector: 'seasonal', ...base, score: clamp01(score), explanation: `${s.statistic} ${d.explain()}`.slice(0, 500) };
      }
      case 'holt-winters':
        return this.forecast(unit.model as HoltWintersForecaster, unit, s, value, w, base);
      case 'drift': {
        const d = unit.model as DriftMonitor;
        d.update(value);
        if (unit.sinceSignal < s.cooldownWindows) return undefined;
        const r = d.check();
        const c = d.config;
        // Both tests must agree: PSI alone is noisy on tens of windows (≈ (bins − 1)/n for a stable series).
        if (!r || r.psi < c.psiThreshold || r.ks.pValue >= c.alpha) return undefined;
        return {
          kind: 'drift',
          detector: 'drift',
          ...base,
          score: clamp01(1 - r.ks.pValue),
          explanation: `${s.statistic} of ${w.series.name} drifted: ${r.explanation}`.slice(0, 500),
          drift: { psi: r.psi, ks: r.ks.statistic, pValue: r.ks.pValue, psiThreshold: c.psiThreshold, alpha: c.alpha, referenceWindows: c.referenceSize, currentWindows: c.currentSize },
        };
      }
    }
  }

  /** Signals only a crossing still ahead: predicted within the horizon with at least `minProbability` by its end. */
  private forecast(
    m: HoltWintersForecaster,
    unit: Unit,
    s: Extract<DetectorSetting, { type: 'holt-winters' }>,
    value: number,
    w: AggregateWindow,
    base: Pick<Signal, 'series' | 'timestamp' | 'value' | 'statistic'>,
  ): Signal | undefined {
    m.update(value);
    if (unit.fed < s.warmupWindows || unit.sinceSignal < s.cooldownWindows) return undefined;
    const above = s.direction === 'above';
    if (above ? value >= s.threshold : value <= s.threshold) return undefined;
    const steps = Math.max(1, Math.ceil(s.horizonMs / w.windowMs));
    const path = m.forecast(steps, 0.95);
    const cross = path.findIndex((p) => (above ? p.mean >= s.threshold : p.mean <= s.threshold));
    if (cross < 0) return undefined;
    const end = path[steps - 1];
    const sd = (end.upper - end.mean) / 1.959964;
    const z = (s.threshold - end.mean) / (sd || 1e-12);
    const probability = above ? normalTail(z) : 1 - normalTail(z);
    if (probability < s.minProbability) return undefined;
    const crossesAt = (base.timestamp as number) + (cross + 1) * w.windowMs;
    const horizon = formatDuration(s.horizonMs);
    return {
      kind: 'forecast',
      detector: 'holt-winters',
      ...base,
      score: clamp01(probability),
      explanation:
        `${s.statistic} ${formatNumber(value)}${w.unit ? ` ${w.unit}` : ''} will cross ${formatNumber(s.threshold)} within ${horizon} ` +
        `(expected in ${formatDuration((cross + 1) * w.windowMs)}; in ${horizon}: ${formatNumber(end.mean)}, 95% ${formatNumber(end.lower)}–${formatNumber(end.upper)}, P ${probability.toFixed(2)})`,
      forecast: { threshold: s.threshold, direction: s.direction, horizonMs: s.horizonMs, crossesAt, probability: clamp01(probability), mean: end.mean, lower: end.lower, upper: end.upper, confidence: 0.95 },
    };
  }

  private feedForest(t: TenantUnits, r: ResolvedSetting, s: Extract<DetectorSetting, { type: 'isolation-forest' }>, dim: number, w: FedWindow, out: Signal[]): void {
    const key = unitKey(r.id, '');
    let unit = t.units.get(key);
    if (!unit) {
      unit = { resolved: r, seriesId: '', partition: w.partition, model: this.create(r), fedUntil: -Infinity, fed: 0, sinceSignal: NEVER, dirty: true };
      t.units.set(key, unit);
    }
    const start = w.window.windowStart;
    if (start <= unit.fedUntil) return;
    unit.partition = w.partition;
    const pending = (unit.pending ??= new Map<number, (AggregateWindow | undefined)[]>());
    let vector = pending.get(start);
    if (!vector) {
      pending.set(start, (vector = new Array<AggregateWindow | undefined>(s.series.length).fill(undefined)));
      while (pending.size > MAX_PENDING_INSTANTS) pending.delete(Math.min(...pending.keys()));
    }
    vector[dim] = w.window;
    if (vector.some((v) => v === undefined)) return;
    const windows = vector as AggregateWindow[];
    const values = windows.map((v) => statisticOf(v, s.statistic));
    for (const k of [...pending.keys()]) if (k <= start) pending.delete(k);
    unit.fedUntil = start;
    unit.dirty = true;
    if (values.some((v) => !Number.isFinite(v))) return;
    const forest = unit.model as IsolationForest;
    const contributions = forest.trained ? forest.contributions(values) : [];
    const score = forest.update(values);
    unit.fed++;
    unit.sinceSignal = Math.min(NEVER, unit.sinceSignal + 1);
    if (unit.fed <= s.warmupWindows || unit.sinceSignal < s.cooldownWindows || score < s.minScore || contributions.length === 0) return;
    unit.sinceSignal = 0;
    const metrics = windows
      .map((v, i) => ({ series: v.series, value: values[i], contribution: clamp01(contributions[i]) }))
      .sort((a, b) => b.contribution - a.contribution);
    const top = metrics[0];
    const label = (m: (typeof metrics)[number]) => `${m.series.name}${labelText(m.series.labels)} ${s.statistic} ${formatNumber(m.value)} (${Math.round(100 * m.contribution)}%)`;
    out.push({
      kind: 'outlier',
      detector: 'isolation-forest',
      series: top.series,
      timestamp: start + w.window.windowMs,
      value: top.value,
      statistic: s.statistic,
      score: clamp01(score),
      explanation: `unusual combination (isolation score ${score.toFixed(2)} ≥ ${s.minScore}): ${metrics.map(label).join(', ')}`.slice(0, 500),
      outlier: { threshold: s.minScore, metrics },
    });
  }

  /** Snapshots of a tenant's units (dirty ones only unless `all`), optionally of one partition; marks them clean. */
  snapshotUnits(tenant: string, opts: { partition?: number; all?: boolean } = {}): StoredUnit[] {
    const t = this.byTenant.get(tenant);
    if (!t) return [];
    const out: StoredUnit[] = [];
    for (const u of t.units.values()) {
      if (opts.partition !== undefined && u.partition !== opts.partition) continue;
      if (!u.dirty && !opts.all) continue;
      if (!Number.isFinite(u.fedUntil)) continue;
      out.push({ settingId: u.resolved.id, seriesId: u.seriesId, partition: u.partition, snapshot: { fedUntil: u.fedUntil, fed: u.fed, sinceSignal: u.sinceSignal, ...(u.unit ? { unit: u.unit } : {}), model: u.model.snapshot() } });
      u.dirty = false;
    }
    return out;
  }

  /** A save failed: the units it took are dirty again, so the next checkpoint writes them. */
  restoreDirty(tenant: string, stored: StoredUnit[]): void {
    const t = this.byTenant.get(tenant);
    for (const s of stored) {
      const u = t?.units.get(unitKey(s.settingId, s.seriesId));
      if (u) u.dirty = true;
    }
  }

  /** Units restored from their snapshots; a snapshot whose setting is gone, or that does not load, is skipped. */
  restore(tenant: string, stored: StoredUnit[]): { restored: number; skipped: number } {
    const t = this.byTenant.get(tenant);
    let restored = 0;
    let skipped = 0;
    for (const s of stored) {
      const r = t?.settings.find((x) => x.id === s.settingId);
      const key = unitKey(s.settingId, s.seriesId);
      if (!t || !r || t.units.has(key)) {
        skipped++;
        continue;
      }
      try {
        const model = this.create(r, s.snapshot.unit, s.snapshot.model);
        t.units.set(key, { resolved: r, seriesId: s.seriesId, partition: s.partition, model, fedUntil: s.snapshot.fedUntil, fed: s.snapshot.fed, sinceSignal: s.snapshot.sinceSignal, unit: s.snapshot.unit, dirty: false });
        restored++;
      } catch {
        skipped++;
      }
    }
    return { restored, skipped };
  }

  /** Drops the units of partitions this member no longer owns (after saving them). */
  dropPartitions(keep: (partition: number) => boolean): void {
    for (const t of this.byTenant.values()) for (const [k, u] of t.units) if (!keep(u.partition)) t.units.delete(k);
  }

  partitionsOf(tenant: string): Set<number> {
    return new Set([...(this.byTenant.get(tenant)?.units.values() ?? [])].map((u) => u.partition));
  }

  tenants(): string[] {
    return [...this.byTenant.keys()];
  }

  forgetTenant(tenant: string): void {
    this.byTenant.delete(tenant);
  }

  size(tenant?: string): number {
    if (tenant !== undefined) return this.byTenant.get(tenant)?.units.size ?? 0;
    let n = 0;
    for (const t of this.byTenant.values()) n += t.units.size;
    return n;
  }
}

function clamp01(x: number): number {
  return Math.min(1, Math.max(0, x));
}

function formatDuration(ms: number): string {
  if (ms % 3600_000 === 0) return `${ms / 3600_000} h`;
  if (ms >= 60_000) return `${Math.round(ms / 60_000)} min`;
  return `${Math.round(ms / 1000)} s`;
}

function labelText(labels: Record<string, string>): string {
  const e = Object.entries(labels);
  return e.length ? `{${e.map(([k, v]) => `${k}="${v}"`).join(',')}}` : '';
}

