import { AlertStateTable, step, type TrackedAlert } from './alert-state';

const t0 = 1_767_225_600_000;
const w = (i: number) => t0 + i * 10_000;

/** Feeds observations through a table as the service does (decide, then apply) and returns the transitions. */
function run(obs: [number, boolean][], table = new AlertStateTable()) {
  const out: string[] = [];
  for (const [i, breached] of obs) {
    const s = table.decide('label-a', 'fp', { windowStart: w(i), breached });
    if (s.kind === 'stale') continue;
    if (s.transition) out.push(`${s.transition.state}@${(s.transition.startsAt - t0) / 10_000}`);
    table.apply('label-a', 'fp', s.next);
  }
  return out;
}

describe('alert state machine', () => {
  it('fires on the first breaching window and stays firing while it breaches', () => {
    expect(run([[0, false], [1, true], [2, true], [3, true]])).toEqual(['firing@1']);
  });

  it('resolves on the first later window that no longer breaches, keeping the episode start', () => {
    const s = step({ status: 'firing', startsAt: w(1), lastWindowStart: w(2) }, { windowStart: w(3), breached: false });
    expect(s).toEqual({ kind: 'advance', next: { status: 'inactive', lastWindowStart: w(3) }, transition: { state: 'resolved', startsAt: w(1), endsAt: w(3) } });
  });

  it('starts a new episode after a resolution', () => {
    expect(run([[1, true], [2, false], [3, true], [4, false]])).toEqual(['firing@1', 'resolved@1', 'firing@3', 'resolved@3']);
  });

  it('ignores a replayed window', () => {
    expect(run([[1, true], [2, false], [1, true], [2, false]])).toEqual(['firing@1', 'resolved@1']);
  });

  it('ignores a late, older breaching window after a newer healthy one', () => {
    expect(run([[5, false], [3, true]])).toEqual([]);
  });

  it('ignores a late, older healthy window while firing', () => {
    expect(run([[5, true], [4, false], [6, true]])).toEqual(['firing@5']);
  });

  it('keeps tenants apart even for the same fingerprint', () => {
    const table = new AlertStateTable();
    const fire: TrackedAlert = { status: 'firing', startsAt: w(1), lastWindowStart: w(1) };
    table.apply('label-a', 'fp', fire);
    expect(table.get('label-b', 'fp')).toBeUndefined();
    expect(table.decide('label-b', 'fp', { windowStart: w(2), breached: true })).toMatchObject({ transition: { state: 'firing', startsAt: w(2) } });
    table.forgetTenant('label-a');
    expect(table.get('label-a', 'fp')).toBeUndefined();
  });

  it('does not change anything until the step is applied', () => {
    const table = new AlertStateTable();
    table.decide('label-a', 'fp', { windowStart: w(1), breached: true });
    expect(table.decide('label-a', 'fp', { windowStart: w(1), breached: true })).toMatchObject({ transition: { state: 'firing' } });
    expect(table.firingCount()).toBe(0);
  });
});
