import type { AuditEvent } from '@headroom/contracts';
import { canonicalJson, ChainVerifier, chainOf, GENESIS_HASH, linkHash, type ChainLink } from './audit-chain';

const event = (i: number, extra: Partial<AuditEvent> = {}): AuditEvent => ({
  at: `2026-01-01T00:00:0${i % 10}.123Z`,
  service: 'alerting',
  actor: 'key:k1a2b3c4d5',
  tenant: 'nova',
  action: 'http.post',
  target: 'POST /v1/silences',
  outcome: 'success',
  details: { status: 201, path: '/v1/silences' },
  ...extra,
});

/** A well-formed chain of n links, as the repository would store it. */
function chain(n: number): (ChainLink & { id: string })[] {
  const links: (ChainLink & { id: string })[] = [];
  let prev = GENESIS_HASH;
  for (let seq = 1; seq <= n; seq++) {
    const e = event(seq);
    const hash = linkHash(prev, 'tenant:nova', seq, e);
    links.push({ id: `0:${seq}`, chain: 'tenant:nova', seq, prevHash: prev, hash, event: e });
    prev = hash;
  }
  return links;
}

const verify = (links: (ChainLink & { id: string })[], head?: { seq: number; hash: string }) => {
  const v = new ChainVerifier();
  v.push(links);
  return { ...v.finish(head), rows: v.rows };
};

describe('canonicalJson', () => {
  it('is the same whatever the key order, at every level, and leaves out undefined fields', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, 'x'], c: true }, z: undefined })).toBe('{"a":{"c":true,"d":[1,"x"]},"b":1}');
    expect(canonicalJson({ a: { c: true, d: [1, 'x'] }, b: 1 })).toBe(canonicalJson({ b: 1, a: { d: [1, 'x'], c: true } }));
  });

  it('refuses what JSON cannot carry', () => {
    expect(() => canonicalJson({ n: Number.NaN })).toThrow('non-finite');
  });
});

describe('linkHash', () => {
  it('covers every field of the event, its place in the chain and the link before', () => {
    const base = linkHash(GENESIS_HASH, 'tenant:nova', 1, event(1));
    expect(base).toMatch(/^[0-9a-f]{64}$/);
    expect(linkHash(GENESIS_HASH, 'tenant:nova', 1, { ...event(1) })).toBe(base);
    expect(linkHash(GENESIS_HASH, 'tenant:nova', 1, event(1, { outcome: 'denied' }))).not.toBe(base);
    expect(linkHash(GENESIS_HASH, 'tenant:nova', 1, event(1, { details: { status: 200, path: '/v1/silences' } }))).not.toBe(base);
    expect(linkHash(GENESIS_HASH, 'tenant:nova', 2, event(1))).not.toBe(base);
    expect(linkHash(GENESIS_HASH, 'platform', 1, event(1))).not.toBe(base);
    expect(linkHash('1'.repeat(64), 'tenant:nova', 1, event(1))).not.toBe(base);
  });

  it('reads the same timestamp written with an offset or back from the database', () => {
    expect(linkHash(GENESIS_HASH, 'c', 1, event(1, { at: '2026-01-01T01:00:01.123+01:00' }))).toBe(linkHash(GENESIS_HASH, 'c', 1, event(1, { at: '2026-01-01T00:00:01.123Z' })));
  });
});

describe('chainOf', () => {
  it('keeps a tenant called "platform" apart from the platform chain', () => {
    expect(chainOf(undefined)).toBe('platform');
    expect(chainOf('platform')).not.toBe(chainOf(undefined));
  });
});

describe('ChainVerifier', () => {
  it('accepts an untouched chain and reports its head', () => {
    const links = chain(5);
    expect(verify(links, { seq: 5, hash: links[4].hash })).toEqual({ ok: true, rows: 5, lastSeq: 5, headHash: links[4].hash });
    expect(verify([], undefined)).toEqual({ ok: true, rows: 0, lastSeq: 0, headHash: GENESIS_HASH });
  });

  it('locates an edited field: the row itself, hash_mismatch', () => {
    const links = chain(5);
    links[2] = { ...links[2], event: { ...links[2].event, actor: 'person:someone-else' } };
    expect(verify(links, { seq: 5, hash: links[4].hash }).firstBroken).toEqual({ seq: 3, id: '0:3', reason: 'hash_mismatch' });
  });

  it('locates a row rewritten with a fresh hash: the next one no longer points at it, prev_mismatch', () => {
    const links = chain(5);
    const forged = { ...links[2].event, outcome: 'success' as const, details: {} };
    links[2] = { ...links[2], event: forged, hash: linkHash(links[2].prevHash, links[2].chain, 3, forged) };
    expect(verify(links).firstBroken).toEqual({ seq: 4, id: '0:4', reason: 'prev_mismatch' });
  });

  it('locates a deleted row: the first missing seq, and the row found in its place', () => {
    const links = chain(5);
    links.splice(2, 1);
    expect(verify(links).firstBroken).toEqual({ seq: 3, id: '0:4', reason: 'sequence_gap' });
  });

  it('sees a missing tail against the head, but not a tail cut with the head rewound', () => {
    const links = chain(5);
    expect(verify(links.slice(0, 3), { seq: 5, hash: links[4].hash }).firstBroken).toEqual({ seq: 4, reason: 'head_mismatch' });
    const rewound = verify(links.slice(0, 3), { seq: 3, hash: links[2].hash });
    expect(rewound.ok).toBe(true);
    // What an external anchor catches: the head hash differs from the one logged before the cut.
    expect(rewound.headHash).not.toBe(links[4].hash);
  });

  it('stops at the first break across pages', () => {
    const links = chain(6);
    links[4] = { ...links[4], event: { ...links[4].event, target: 'x' } };
    const v = new ChainVerifier();
    expect(v.push(links.slice(0, 3))).toBe(true);
    expect(v.push(links.slice(3))).toBe(false);
    expect(v.finish(undefined)).toMatchObject({ ok: false, firstBroken: { seq: 5, reason: 'hash_mismatch' } });
  });
});
