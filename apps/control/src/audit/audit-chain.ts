import { createHash } from 'node:crypto';
import type { AuditEvent } from '@headroom/contracts';

/** The `prev_hash` of a chain's first link. */
export const GENESIS_HASH = '0'.repeat(64);

/** The chain of events that name no tenant (platform operators, refused anonymous requests). */
export const PLATFORM_CHAIN = 'platform';

/**
 * A tenant may be called `platform` (tenant ids are [a-z0-9-]), so tenant chains are named
 * `tenant:<id>` and the platform's plain `platform`: the two can never meet.
 */
export function chainOf(tenant: string | undefined): string {
  return tenant ? `tenant:${tenant}` : PLATFORM_CHAIN;
}

/**
 * JSON with object keys sorted at every level and no whitespace: the same event always hashes the
 * same, whatever order its fields were written or read back in (jsonb does not keep key order).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new Error('canonical JSON has no non-finite numbers');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** One stored link: the event, where it sits in its chain, and the hashes that tie it to the one before. */
export interface ChainLink {
  chain: string;
  seq: number;
  prevHash: string;
  hash: string;
  event: AuditEvent;
}

/**
 * What a link's hash covers: the event as stored, with its chain and sequence number, so that moving
 * a row to another place or chain breaks it as surely as editing it. `at` is normalised to the
 * millisecond ISO form the database gives back.
 */
export function linkDocument(chain: string, seq: number, e: AuditEvent): string {
  return canonicalJson({
    chain,
    seq,
    event: {
      id: e.id,
      at: new Date(e.at).toISOString(),
      service: e.service,
      actor: e.actor,
      tenant: e.tenant,
      action: e.action,
      target: e.target,
      outcome: e.outcome,
      details: e.details,
    },
  });
}

/** sha256(prev_hash || canonical JSON of the link), hex. */
export function linkHash(prevHash: string, chain: string, seq: number, e: AuditEvent): string {
  return createHash('sha256').update(prevHash).update(linkDocument(chain, seq, e)).digest('hex');
}

export type BreakReason = 'hash_mismatch' | 'prev_mismatch' | 'sequence_gap' | 'head_mismatch';

export interface ChainBreak {
  seq: number;
  /** The stored row at (or, for a gap, just after) the break; absent when the rows end before the head. */
  id?: string;
  reason: BreakReason;
}

/**
 * Walks a chain's links in sequence order, page by page, and stops at the first broken one.
 * A link is broken when its sequence number is not the next one (a row deleted: `seq` is the first
 * missing number), when its `prev_hash` is not the hash of the link before (a row replaced), or when
 * its own hash does not match its content (a field edited). `id` names the row where it was seen.
 */
export class ChainVerifier {
  private expectedSeq = 1;
  private prev = GENESIS_HASH;
  rows = 0;
  broken: ChainBreak | undefined;

  /** Feeds the next links (in seq order); false once a break has been found. */
  push(links: Iterable<ChainLink & { id: string }>): boolean {
    for (const link of links) {
      if (this.broken) return false;
      this.rows++;
      if (link.seq !== this.expectedSeq) this.broken = { seq: this.expectedSeq, id: link.id, reason: 'sequence_gap' };
      else if (link.prevHash !== this.prev) this.broken = { seq: link.seq, id: link.id, reason: 'prev_mismatch' };
      else if (linkHash(link.prevHash, link.chain, link.seq, link.event) !== link.hash) this.broken = { seq: link.seq, id: link.id, reason: 'hash_mismatch' };
      else {
        this.prev = link.hash;
        this.expectedSeq++;
      }
    }
    return !this.broken;
  }

  /**
   * The walked rows against the chain head (the last seq and hash, updated with every append). A
   * missing tail with the head left alone shows here; a tail removed with the head rewound too does
   * not: only a copy of the head hash kept elsewhere can show that (see docs/audit.md).
   */
  finish(head: { seq: number; hash: string } | undefined): { ok: boolean; headHash: string; lastSeq: number; firstBroken?: ChainBreak } {
    if (!this.broken && head && (head.seq !== this.expectedSeq - 1 || head.hash !== this.prev)) {
      this.broken = { seq: Math.min(head.seq, this.expectedSeq), reason: 'head_mismatch' };
    }
    return { ok: !this.broken, headHash: this.prev, lastSeq: this.expectedSeq - 1, ...(this.broken ? { firstBroken: this.broken } : {}) };
  }
}
