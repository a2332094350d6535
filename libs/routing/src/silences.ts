/**
 * Silences with Alertmanager's lifetime: pending before startsAt, active from startsAt to endsAt
 * inclusive, expired after. A silence mutes an alert when all its matchers hold.
 */
import { matches, parseMatcherLines, type Labels, type Matcher } from './matchers';

export interface Silence {
  readonly id: string;
  /** Alertmanager matcher lines, e.g. `alertname="DiskFull"`, `instance=~"db-.*"`. */
  readonly matchers: readonly string[];
  /** Milliseconds since the epoch. */
  readonly startsAt: number;
  readonly endsAt: number;
  /** Headroom: the silence ends when an alert it silences resolves (see silencesEndedBy). */
  readonly endOnResolve?: boolean;
  readonly createdBy: string;
  readonly comment: string;
}

export type SilenceState = 'pending' | 'active' | 'expired';

export interface SilenceMatch {
  readonly silenced: boolean;
  /** Ids of the active silences whose matchers all hold, in the order given. */
  readonly silenceIds: readonly string[];
}

export function silenceState(s: Silence, now: number): SilenceState {
  if (now < s.startsAt) return 'pending';
  if (now > s.endsAt) return 'expired';
  return 'active';
}

export function activeSilences(silences: readonly Silence[], now: number): Silence[] {
  return silences.filter((s) => silenceState(s, now) === 'active');
}

export function isSilenced(labels: Labels, silences: readonly Silence[], now: number): SilenceMatch {
  const silenceIds = activeSilences(silences, now)
    .filter((s) => matches(compiled(s.matchers), labels))
    .map((s) => s.id);
  return { silenced: silenceIds.length > 0, silenceIds };
}

/** Ids of active `endOnResolve` silences that silence this alert: the caller expires them when it resolves. */
export function silencesEndedBy(resolvedLabels: Labels, silences: readonly Silence[], now: number): string[] {
  const ending = silences.filter((s) => s.endOnResolve);
  return [...isSilenced(resolvedLabels, ending, now).silenceIds];
}

/**
 * Why a silence cannot be stored, or undefined: like Alertmanager, a silence needs matchers, and
 * one whose matchers all match the empty string would silence every alert of the tenant.
 */
export function silenceProblem(s: Pick<Silence, 'matchers' | 'startsAt' | 'endsAt'>): string | undefined {
  if (s.endsAt < s.startsAt) return 'endsAt is before startsAt';
  let ms: Matcher[];
  try {
    ms = parseMatcherLines(s.matchers);
  } catch (err) {
    return `bad matcher: ${(err as Error).message}`;
  }
  if (ms.length === 0) return 'a silence needs at least one matcher';
  if (matches(ms, {})) return 'at least one matcher must not match the empty string (it would silence every alert)';
  return undefined;
}

// Silences are read on every notification: their matchers are compiled once per distinct text.
const cache = new Map<string, Matcher[]>();
const CACHE_LIMIT = 10_000;

function compiled(lines: readonly string[]): Matcher[] {
  const key = JSON.stringify(lines);
  let ms = cache.get(key);
  if (!ms) {
    if (cache.size >= CACHE_LIMIT) cache.clear();
    ms = parseMatcherLines(lines);
    cache.set(key, ms);
  }
  return ms;
}
