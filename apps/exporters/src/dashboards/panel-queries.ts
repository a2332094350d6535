import type { Dashboard, Panel, RowPanel, VariableModel } from '@grafana/grafana-foundation-sdk/dashboard';
import { POSTGRES_DATASOURCE_TYPE } from './postgres-query';

/** One query of one panel, as Grafana would send it to the panel's datasource. */
export interface PanelQuery {
  dashboardUid: string;
  panel: string;
  refId: string;
  datasourceUid: string;
  kind: 'prometheus' | 'postgres';
  /** PromQL or SQL, before variable substitution. */
  text: string;
  /** PromQL only: an instant query (stat, table) rather than a range query. */
  instant: boolean;
}

const isRow = (p: Panel | RowPanel): p is RowPanel => p.type === 'row';

/** Every panel query of a dashboard (rows included); a query whose datasource differs from its panel's throws. */
export function panelQueries(d: Dashboard): PanelQuery[] {
  const panels = (d.panels ?? []).flatMap((p) => (isRow(p) ? p.panels : [p]));
  return panels.flatMap((p) =>
    (p.targets ?? []).map((t) => {
      const target = t as unknown as Record<string, unknown> & { refId: string; datasource?: { uid?: string; type?: string } };
      const uid = target.datasource?.uid ?? p.datasource?.uid;
      if (!uid || uid !== p.datasource?.uid) throw new Error(`${d.uid} / ${p.title}: query ${target.refId} names datasource ${uid}, the panel ${p.datasource?.uid}`);
      const postgres = p.datasource?.type === POSTGRES_DATASOURCE_TYPE;
      return {
        dashboardUid: d.uid ?? '',
        panel: p.title ?? '',
        refId: target.refId,
        datasourceUid: uid,
        kind: postgres ? ('postgres' as const) : ('prometheus' as const),
        text: String(postgres ? target['rawSql'] : target['expr']),
        instant: !postgres && target['instant'] === true && target['range'] !== true,
      };
    }),
  );
}

export const dashboardVariables = (d: Dashboard): VariableModel[] => d.templating?.list ?? [];

export interface QueryTime {
  fromMs: number;
  toMs: number;
  /** Grafana's $__interval for the panel: at least the datasource's `timeInterval`. */
  intervalMs: number;
}

/** A duration in Grafana's/Prometheus's notation, whole seconds: 7200000 → `7200s`. */
export const promDuration = (ms: number) => `${Math.max(1, Math.round(ms / 1000))}s`;

/**
 * Substitutes Grafana's global variables and the dashboard's own (already formatted values), as
 * Grafana does before a query leaves it. Anything left that looks like a variable throws: a query
 * Grafana would send with a literal `$name` in it is a broken panel.
 */
export function interpolate(text: string, time: QueryTime, variables: Record<string, string> = {}): string {
  const globals: Record<string, string> = {
    __from: String(time.fromMs),
    __to: String(time.toMs),
    __range: promDuration(time.toMs - time.fromMs),
    __range_s: String(Math.round((time.toMs - time.fromMs) / 1000)),
    __interval: promDuration(time.intervalMs),
    __interval_ms: String(time.intervalMs),
    // Grafana: max($__interval + scrape interval, 4 × scrape interval); the scrape interval here is the 10 s window.
    __rate_interval: promDuration(Math.max(time.intervalMs + 10_000, 40_000)),
  };
  const all = { ...globals, ...variables };
  const out = text.replace(/\$\{(\w+)\}|\$(\w+)/g, (match, braced: string | undefined, bare: string | undefined) => {
    const name = braced ?? bare!;
    if (!(name in all)) throw new Error(`unknown variable ${match} in: ${text}`);
    return all[name];
  });
  return out;
}
