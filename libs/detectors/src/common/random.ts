/** Seeded PRNG whose whole state is one integer, so detectors that sample can checkpoint it. */
export class SeededRandom {
  constructor(public state: number) {
    this.state = state >>> 0;
  }

  /** Mulberry32 step: uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(n: number): number {
    return Math.floor(this.next() * n);
  }
}
