import { durationProblem, parseDuration } from '@headroom/contracts';
import { badParam } from './query-error';

export type Params = Record<string, string | string[] | undefined>;

/** A single-valued parameter (the first when repeated). */
export function one(params: Params, name: string): string | undefined {
  const v = params[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Every value of a repeatable parameter (`stat=p95&stat=count`, `match[]=…`). */
export function all(params: Params, name: string): string[] {
  const v = params[name];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

const MIN_MS = 946_684_800_000;
const MAX_MS = 4_102_444_800_000;

/** `/v1` times: milliseconds since the epoch (as everywhere in Headroom) or an ISO 8601 date-time. */
export function v1Time(field: string, text: string | undefined, dflt: number): number {
  if (text === undefined || text === '') return dflt;
  const ms = /^\d+$/.test(text) ? Number(text) : /^\d{4}-\d\d-\d\dT/.test(text) ? Date.parse(text) : NaN;
  if (!Number.isFinite(ms)) throw badParam(field, `${JSON.stringify(text)} is neither milliseconds since the epoch nor an ISO 8601 date-time`);
  if (ms < MIN_MS || ms > MAX_MS) throw badParam(field, 'must be milliseconds since the epoch (between 2000 and 2100), not seconds');
  return ms;
}

/** A duration as Headroom writes them (10s, 1m, 1h30m). */
export function v1Duration(field: string, text: string | undefined, dflt: number): number {
  if (text === undefined || text === '') return dflt;
  const problem = durationProblem(text);
  if (problem) throw badParam(field, `invalid duration ${JSON.stringify(text)}: ${problem}`);
  const ms = parseDuration(text);
  if (ms <= 0) throw badParam(field, 'must be positive');
  return ms;
}

/** Prometheus API times: Unix seconds (fractions allowed) or RFC 3339; answered in milliseconds. */
export function promTime(field: string, text: string | undefined, dflt: number): number {
  if (text === undefined || text === '') return dflt;
  let ms: number;
  if (/^[+-]?\d+(\.\d+)?$/.test(text)) ms = Math.round(Number(text) * 1000);
  else ms = /^\d{4}-\d\d-\d\dT/.test(text) ? Date.parse(text) : NaN;
  if (!Number.isFinite(ms)) throw badParam(field, `cannot parse ${JSON.stringify(text)} to a valid timestamp`);
  return ms;
}

/** Prometheus API durations: seconds (fractions allowed) or a duration such as 15s, 1m. */
export function promDuration(field: string, text: string | undefined): number {
  if (text === undefined || text === '') throw badParam(field, `missing ${field}`);
  const ms = /^\d+(\.\d+)?$/.test(text) ? Math.round(Number(text) * 1000) : durationProblem(text) ? NaN : parseDuration(text);
  if (!Number.isFinite(ms)) throw badParam(field, `cannot parse ${JSON.stringify(text)} to a valid duration`);
  if (ms <= 0) throw badParam(field, 'zero or negative query resolution step widths are not accepted. Try a positive integer');
  return ms;
}
