import type { AlertNotification, AnomalyNotification } from './notification-channel';

interface Catalog {
  firing: string;
  resolved: string;
  tenant: string;
  threshold: string;
  anomaly: string;
  score: string;
}

/** Message catalogs by language. The tenant's locale picks one; anything unknown falls back to English. */
const CATALOGS: Record<string, Catalog> = {
  en: { firing: 'FIRING', resolved: 'RESOLVED', tenant: 'tenant', threshold: 'threshold', anomaly: 'ANOMALY', score: 'score' },
  fr: { firing: 'ALERTE', resolved: 'RÉSOLU', tenant: 'locataire', threshold: 'seuil', anomaly: 'ANOMALIE', score: 'score' },
};

export const SUPPORTED_LANGUAGES = Object.keys(CATALOGS);

function catalogFor(locale: string): { language: string; catalog: Catalog } {
  const language = locale.split('-')[0]?.toLowerCase() ?? 'en';
  const catalog = CATALOGS[language];
  return catalog ? { language, catalog } : { language: 'en', catalog: CATALOGS['en']! };
}

function formatNumber(value: number, locale: string): string {
  try {
    return new Intl.NumberFormat(locale, { maximumFractionDigits: 2, useGrouping: false }).format(value);
  } catch {
    // An unusual but schema-valid tag that ICU refuses: plain digits are still readable.
    return String(Math.round(value * 100) / 100);
  }
}

/**
 * One line an on-call person can act on, in the tenant's language, e.g.
 * `[FIRING] p95(api_latency_ms) = 312 > 250 — tenant label-a, route=/play` or
 * `[RÉSOLU] p95(api_latency_ms) = 180 (seuil > 250) — locataire label-a, route=/play`.
 */
export function formatAlertMessage(n: AlertNotification): string {
  const { language, catalog } = catalogFor(n.locale);
  const numberLocale = CATALOGS[n.locale.split('-')[0] ?? ''] ? n.locale : language;
  if (n.state === 'anomaly') return formatAnomaly(n, catalog, numberLocale);
  const value = formatNumber(n.value, numberLocale);
  const threshold = formatNumber(n.rule.threshold, numberLocale);
  const expr = `${n.rule.stat}(${n.series.name}) = ${value}`;
  const condition = n.state === 'firing' ? `${expr} ${n.rule.op} ${threshold}` : `${expr} (${catalog.threshold} ${n.rule.op} ${threshold})`;
  const labels = Object.keys(n.series.labels)
    .sort()
    .map((k) => `${k}=${n.series.labels[k]}`);
  const where = [`${catalog.tenant} ${n.tenant}`, ...labels].join(', ');
  return `[${n.state === 'firing' ? catalog.firing : catalog.resolved}] ${condition} — ${where}`;
}

/**
 * `[ANOMALY] api_latency_ms{route=/play}: p95 value 480 ms is 31.2σ above … (score 0.97) — tenant label-a`.
 * The explanation is the detector's own (English) sentence; the frame around it is localised.
 */
function formatAnomaly(n: AnomalyNotification, catalog: Catalog, numberLocale: string): string {
  const labels = Object.keys(n.series.labels)
    .sort()
    .map((k) => `${k}=${n.series.labels[k]}`);
  const series = labels.length ? `${n.series.name}{${labels.join(', ')}}` : n.series.name;
  return `[${catalog.anomaly}] ${series}: ${n.explanation} (${catalog.score} ${formatNumber(n.score, numberLocale)}) — ${catalog.tenant} ${n.tenant}`;
}
