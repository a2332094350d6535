import { retirementStatus, sealedRecordRetentionMs, sealedVersions } from './retirement';

const day = 86_400_000;
const t0 = new Date('2025-03-01T00:00:00Z');
const at = (days: number) => new Date(t0.getTime() + days * day);
const versions = [
  { version: 1, state: 'active' as const, createdAt: at(0) },
  { version: 2, state: 'active' as const, createdAt: at(30) },
  { version: 3, state: 'active' as const, createdAt: at(60) },
];

describe('retirementStatus', () => {
  it('never retires the current version', () => {
    const status = retirementStatus({ versions, sealedInStore: new Set(), retireAfterMs: 0, now: at(1000) });
    expect(status.find((s) => s.version === 3)).toMatchObject({ state: 'current', retirable: false, keptBecause: [{ code: 'current' }] });
  });

  it('keeps an old version until the retention has passed since it stopped being current (not since it was created)', () => {
    // v1 stopped being current at day 30; with 30 days of retention, its last records expire at day 60.
    const before = retirementStatus({ versions, sealedInStore: new Set(), retireAfterMs: 30 * day, now: at(59) });
    expect(before.find((s) => s.version === 1)).toMatchObject({
      retirable: false,
      supersededAt: at(30).toISOString(),
      keptBecause: [{ code: 'records_in_retention', until: at(60).toISOString() }],
    });
    const after = retirementStatus({ versions, sealedInStore: new Set(), retireAfterMs: 30 * day, now: at(60) });
    expect(after.filter((s) => s.retirable).map((s) => s.version)).toEqual([1]);
  });

  it('keeps a version something stored is still sealed with, even past the retention', () => {
    const status = retirementStatus({ versions, sealedInStore: new Set([1]), retireAfterMs: 30 * day, now: at(500) });
    expect(status.find((s) => s.version === 1)).toMatchObject({ retirable: false, keptBecause: [{ code: 'sealed_in_store' }] });
    expect(status.find((s) => s.version === 2)?.retirable).toBe(true);
  });

  it('reports a retired version as retired, and both reasons when both hold', () => {
    const status = retirementStatus({ versions: [{ ...versions[0], state: 'retired' }, versions[1], versions[2]], sealedInStore: new Set([2]), retireAfterMs: 30 * day, now: at(61) });
    expect(status.map((s) => [s.version, s.state, s.retirable])).toEqual([
      [1, 'retired', false],
      [2, 'active', false],
      [3, 'current', false],
    ]);
    expect(status[1].keptBecause.map((r) => r.code)).toEqual(['sealed_in_store', 'records_in_retention']);
  });
});

describe('sealedVersions', () => {
  it('finds every version a stored config is sealed with, wherever the secret sits', () => {
    const config = { routing: { receivers: [{ name: 'a', slack_configs: [{ bot_token: 'sealed:v1:2:AAAA' }], pagerduty_configs: [{ routing_key: 'sealed:v1:13:BBBB' }] }] } };
    expect([...sealedVersions(config)].sort((a, b) => a - b)).toEqual([2, 13]);
    expect(sealedVersions({ slackChannel: '#ops', note: 'sealed:v1:x:' }).size).toBe(0);
  });
});

describe('sealedRecordRetentionMs', () => {
  it('is the longest retention of the topics that carry sealed records (alerts and DLQ: 30 days)', () => {
    expect(sealedRecordRetentionMs()).toBe(30 * day);
  });
});
