import { NabFile, probationLength, scaledSigmoid, scoreCorpus, scoreRows, sweepRows } from './nab-scorer';

const MIN = 60_000;

/** 1000 one-minute rows with one window over rows 500..599. */
function file(flagged: number[], windows: Array<[number, number]> = [[500, 599]]): NabFile {
  const n = 1000;
  const timestamps = Array.from({ length: n }, (_, i) => i * MIN);
  const scores = new Array<number>(n).fill(0);
  for (const i of flagged) scores[i] = 1;
  return { name: 'cat/a.csv', timestamps, scores, windows: windows.map(([a, b]) => [a * MIN, b * MIN] as [number, number]) };
}

describe('NAB scorer', () => {
  it('uses the paper sigmoid: +0.987 at a window start, 0 at its end, -1 far after', () => {
    expect(scaledSigmoid(-1)).toBeCloseTo(0.98661, 5);
    expect(scaledSigmoid(-0.5)).toBeCloseTo(0.84828, 5);
    expect(scaledSigmoid(0)).toBe(0);
    expect(scaledSigmoid(3.5)).toBe(-1);
  });

  it('caps the probationary period at 750 rows', () => {
    expect(probationLength(1000)).toBe(150);
    expect(probationLength(22_000)).toBe(750);
  });

  it('scores the perfect detector 100 and the null detector 0', () => {
    expect(scoreCorpus([file([500])]).overall.normalised).toBeCloseTo(100, 6);
    expect(scoreCorpus([file([])]).overall.normalised).toBeCloseTo(0, 6);
  });

  it('rewards only the first detection in a window, earlier being worth more', () => {
    const mid = scoreRows(sweepRows(file([550])), 0.5).score;
    const midAndLate = scoreRows(sweepRows(file([550, 590])), 0.5).score;
    expect(mid).toBeCloseTo(scaledSigmoid(-50 / 100) / scaledSigmoid(-1), 6);
    expect(midAndLate).toBeCloseTo(mid, 10);
    expect(scoreRows(sweepRows(file([510])), 0.5).score).toBeGreaterThan(mid);
  });

  it('charges a false positive 0.11 before any window and less just after one', () => {
    const before = scoreRows(sweepRows(file([300, 500])), 0.5).score;
    expect(before).toBeCloseTo(1 - 0.11, 6);
    const justAfter = scoreRows(sweepRows(file([500, 601])), 0.5).score;
    expect(justAfter).toBeLessThan(1);
    expect(justAfter).toBeGreaterThan(1 - 0.11 * 0.1);
  });

  it('ignores detections in the probationary period and counts a missed window as -1', () => {
    const r = scoreRows(sweepRows(file([10, 20])), 0.5);
    expect(r).toEqual({ score: -1, tp: 0, fp: 0, fn: 1 });
  });

  it('picks the corpus threshold that maximises the score', () => {
    const scores = new Array<number>(1000).fill(0.1);
    scores[300] = 0.6; // a false positive that a 0.7 threshold avoids
    scores[520] = 0.8;
    const f: NabFile = { ...file([]), scores };
    const r = scoreCorpus([f]);
    expect(r.threshold).toBe(0.8);
    expect(r.overall.tp).toBe(1);
    expect(r.overall.fp).toBe(0);
  });
});
