import { Topics, type TopicSpec } from '@headroom/contracts';

/** One data-key version as control stores it. */
export interface DataKeyVersion {
  version: number;
  state: 'active' | 'retired';
  createdAt: Date;
}

/** Why a version is not retired (yet). */
export type KeepReason =
  | { code: 'current'; message: string }
  | { code: 'sealed_in_store'; message: string }
  | { code: 'records_in_retention'; message: string; until: string };

export interface VersionStatus {
  version: number;
  state: 'current' | 'active' | 'retired';
  createdAt: string;
  /** When the next version took over: from then on nothing new is sealed with this one. */
  supersededAt?: string;
  retirable: boolean;
  keptBecause: KeepReason[];
}

/**
 * Topics whose records are sealed with tenant data keys (tenant-scoped messages), and the DLQ, which
 * keeps refused records' values as they came (sealed ones included).
 */
export const SEALED_RECORD_TOPICS: readonly TopicSpec[] = [Topics.telemetry, Topics.aggregates, Topics.signals, Topics.alerts, Topics.dlq];

/** The longest retention among those topics: a record sealed with a version is gone from Kafka this long after the version's last use. */
export function sealedRecordRetentionMs(topics: readonly TopicSpec[] = SEALED_RECORD_TOPICS): number {
  return Math.max(...topics.map((t) => Number(t.config['retention.ms'] ?? 7 * 24 * 3600 * 1000)));
}

/**
 * The retirement rule. A data-key version may be retired once (1) it is not the current one, (2)
 * nothing control stores is sealed with it (receiver secrets are re-sealed after a rotation), and (3)
 * `retireAfterMs` has passed since it stopped being current, so every record sealed with it has
 * expired from Kafka. A retired version decrypts nothing anywhere, so retiring one early would make
 * records still in retention unreadable: every condition is needed.
 */
export function retirementStatus(input: { versions: readonly DataKeyVersion[]; sealedInStore: ReadonlySet<number>; retireAfterMs: number; now: Date }): VersionStatus[] {
  const sorted = [...input.versions].sort((a, b) => a.version - b.version);
  const current = sorted.length ? sorted[sorted.length - 1].version : undefined;
  return sorted.map((v, i) => {
    const base = { version: v.version, createdAt: v.createdAt.toISOString() };
    const next = sorted[i + 1];
    const supersededAt = next ? { supersededAt: next.createdAt.toISOString() } : {};
    if (v.state === 'retired') return { ...base, ...supersededAt, state: 'retired', retirable: false, keptBecause: [] };
    if (v.version === current || !next) {
      return { ...base, state: 'current', retirable: false, keptBecause: [{ code: 'current', message: 'the current version: everything is sealed with it' }] };
    }
    const keptBecause: KeepReason[] = [];
    if (input.sealedInStore.has(v.version)) {
      keptBecause.push({ code: 'sealed_in_store', message: 'receiver secrets stored by control are still sealed with it (re-sealed by the key job)' });
    }
    const until = new Date(next.createdAt.getTime() + input.retireAfterMs);
    if (input.now < until) {
      keptBecause.push({ code: 'records_in_retention', message: 'records sealed with it may still be on the topics until their retention has passed', until: until.toISOString() });
    }
    return { ...base, ...supersededAt, state: 'active', retirable: keptBecause.length === 0, keptBecause };
  });
}

const SEALED_VERSION = /sealed:v1:([1-9][0-9]{0,9}):/g;

/** Every data-key version a stored value is sealed with (`sealed:v1:<version>:…` anywhere in it). */
export function sealedVersions(stored: unknown): Set<number> {
  const versions = new Set<number>();
  for (const m of JSON.stringify(stored ?? null).matchAll(SEALED_VERSION)) versions.add(Number(m[1]));
  return versions;
}
