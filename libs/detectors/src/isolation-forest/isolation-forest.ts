import { ConfigIssue, IssueCollector, assertValid } from '../common/validation';
import { SeededRandom } from '../common/random';

/**
 * Isolation Forest (Liu, Ting & Zhou 2008) for multivariate outliers, e.g. one per tenant
 * over [latency, error rate, throughput]. Points are scored by the current forest, then
 * join a sliding window; the forest is rebuilt from that window every `retrainEvery`
 * points, so it follows the tenant's recent normal behaviour with bounded memory.
 */
export const ISOLATION_FOREST_TYPE = 'isolation-forest';

export interface IsolationForestConfig {
  dimensions: number;
  trees: number;
  /** Points sub-sampled per tree (ψ); 256 is the paper's default. */
  sampleSize: number;
  /** Sliding window of recent points the forest is trained on. */
  windowSize: number;
  retrainEvery: number;
  seed: number;
}

export const defaultIsolationForestConfig: IsolationForestConfig = {
  dimensions: 2,
  trees: 100,
  sampleSize: 256,
  windowSize: 2048,
  retrainEvery: 256,
  seed: 42,
};

export function validateIsolationForestConfig(c: IsolationForestConfig): ConfigIssue[] {
  const v = new IssueCollector();
  v.positiveInt('dimensions', c.dimensions);
  v.positiveInt('trees', c.trees);
  v.positiveInt('windowSize', c.windowSize);
  v.positiveInt('retrainEvery', c.retrainEvery);
  v.nonNegativeInt('seed', c.seed);
  if (!Number.isInteger(c.sampleSize) || c.sampleSize < 2) v.add('sampleSize', 'must be an integer >= 2');
  else if (Number.isInteger(c.windowSize) && c.sampleSize > c.windowSize) v.add('sampleSize', 'must not exceed windowSize');
  return v.issues;
}

/** One tree in flat arrays: internal nodes split on (feature, threshold); leaves keep their size. */
export interface IsolationTree {
  feature: number[];
  threshold: number[];
  left: number[];
  right: number[];
  /** Points that reached the node; -1 marks internal nodes. */
  size: number[];
  /**
   * Range of the split feature over the node's points (absent in older snapshots). A value beyond
   * it would have been cut off by a split drawn over the range including it, with probability
   * (distance beyond)/(extended range): without this, a point far outside the data follows the edge
   * branch and scores no higher than the most extreme training point.
   */
  lo?: number[];
  hi?: number[];
}

export interface IsolationForestState {
  window: number[][];
  /** Next write position in the ring buffer. */
  head: number;
  sinceTrain: number;
  rng: number;
  trees: IsolationTree[];
}

const EULER = 0.5772156649;

/** Average path length of an unsuccessful BST search over n points: the normaliser c(n). */
export function averagePathLength(n: number): number {
  if (n <= 1) return 0;
  if (n === 2) return 1;
  return 2 * (Math.log(n - 1) + EULER) - (2 * (n - 1)) / n;
}

export class IsolationForest {
  private window: number[][] = [];
  private head = 0;
  private sinceTrain = 0;
  private readonly rng: SeededRandom;
  private trees: IsolationTree[] = [];

  constructor(
    readonly config: IsolationForestConfig,
    state?: IsolationForestState,
  ) {
    assertValid(ISOLATION_FOREST_TYPE, validateIsolationForestConfig(config));
    this.rng = new SeededRandom(state ? state.rng : config.seed);
    if (state) {
      this.window = state.window.map((p) => p.slice());
      this.head = state.head;
      this.sinceTrain = state.sinceTrain;
      this.trees = state.trees;
    }
  }

  get trained(): boolean {
    return this.trees.length > 0;
  }

  /** Anomaly score in [0, 1]: ~0.5 or less is normal, close to 1 is isolated quickly. 0.5 until trained. */
  score(point: readonly number[]): number {
    this.checkPoint(point);
    if (this.trees.length === 0) return 0.5;
    let total = 0;
    for (const tree of this.trees) total += pathLength(tree, point);
    const c = averagePathLength(Math.min(this.config.sampleSize, this.window.length));
    return Math.pow(2, -total / this.trees.length / c);
  }

  /** Score the point with the current forest, then learn from it (no look-ahead). */
  update(point: readonly number[]): number {
    const s = this.score(point);
    if (this.window.length < this.config.windowSize) this.window.push(point.slice());
    else this.window[this.head] = point.slice();
    this.head = (this.head + 1) % this.config.windowSize;
    this.sinceTrain++;
    const ready = this.window.length >= this.config.sampleSize;
    if (ready && (this.trees.length === 0 || this.sinceTrain >= this.config.retrainEvery)) this.train();
    return s;
  }

  /** Rebuild every tree from a fresh sub-sample of the window. */
  train(): void {
    const { trees, sampleSize } = this.config;
    const psi = Math.min(sampleSize, this.window.length);
    const maxDepth = Math.ceil(Math.log2(psi));
    this.trees = [];
    const idx = Array.from({ length: this.window.length }, (_, i) => i);
    for (let t = 0; t < trees; t++) {
      // Partial Fisher–Yates: the first psi entries are a uniform sample without replacement.
      for (let i = 0; i < psi; i++) {
        const j = i + this.rng.int(idx.length - i);
        const tmp = idx[i];
        idx[i] = idx[j];
        idx[j] = tmp;
      }
      const sample = idx.slice(0, psi).map((i) => this.window[i]);
      const tree: IsolationTree = { feature: [], threshold: [], left: [], right: [], size: [], lo: [], hi: [] };
      this.grow(tree, sample, 0, maxDepth);
      this.trees.push(tree);
    }
    this.sinceTrain = 0;
  }

  private grow(tree: IsolationTree, points: number[][], depth: number, maxDepth: number): number {
    const node = tree.size.length;
    tree.feature.push(0);
    tree.threshold.push(0);
    tree.left.push(-1);
    tree.right.push(-1);
    tree.size.push(points.length);
    tree.lo?.push(0);
    tree.hi?.push(0);
    if (depth >= maxDepth || points.length <= 1) return node;
    // Only features that still vary can split; constant data ends the branch.
    const d = this.config.dimensions;
    const start = this.rng.int(d);
    for (let k = 0; k < d; k++) {
      const f = (start + k) % d;
      let lo = Infinity;
      let hi = -Infinity;
      for (const p of points) {
        if (p[f] < lo) lo = p[f];
        if (p[f] > hi) hi = p[f];
      }
      if (hi <= lo) continue;
      const split = lo + this.rng.next() * (hi - lo);
      const leftPts = points.filter((p) => p[f] < split);
      const rightPts = points.filter((p) => p[f] >= split);
      tree.feature[node] = f;
      tree.threshold[node] = split;
      tree.size[node] = -1;
      if (tree.lo && tree.hi) {
        tree.lo[node] = lo;
        tree.hi[node] = hi;
      }
      tree.left[node] = this.grow(tree, leftPts, depth + 1, maxDepth);
      tree.right[node] = this.grow(tree, rightPts, depth + 1, maxDepth);
      return node;
    }
    return node;
  }

  /**
   * How much each feature isolates `point`, per tree: where it lies beyond a node's range, that
   * node's feature is credited with the chance of being cut off there; the rest goes to the split
   * that cut it off into its leaf (earlier splits mostly carve out the bulk of the data). Each
   * credit is weighted by 1/path length (a short path is a strong isolation); normalised to sum to
   * 1. All zeros until trained.
   */
  contributions(point: readonly number[]): number[] {
    this.checkPoint(point);
    const credit = new Array<number>(this.config.dimensions).fill(0);
    for (const tree of this.trees) {
      let node = 0;
      let depth = 0;
      let reach = 1;
      let last = -1;
      while (tree.size[node] < 0) {
        const f = tree.feature[node];
        const x = point[f];
        if (tree.lo && tree.hi) {
          const beyond = x < tree.lo[node] ? tree.lo[node] - x : x > tree.hi[node] ? x - tree.hi[node] : 0;
          if (beyond > 0) {
            const p = beyond / (tree.hi[node] - tree.lo[node] + beyond);
            credit[f] += (reach * p) / (depth + 1);
            reach *= 1 - p;
          }
        }
        last = f;
        node = x < tree.threshold[node] ? tree.left[node] : tree.right[node];
        depth++;
      }
      if (last >= 0) credit[last] += reach / Math.max(1, depth + averagePathLength(tree.size[node]));
    }
    const total = credit.reduce((a, b) => a + b, 0);
    return total > 0 ? credit.map((c) => c / total) : credit;
  }

  private checkPoint(point: readonly number[]): void {
    if (point.length !== this.config.dimensions) throw new Error(`expected ${this.config.dimensions} dimensions, got ${point.length}`);
  }

  snapshot(): IsolationForestState {
    return { window: this.window.map((p) => p.slice()), head: this.head, sinceTrain: this.sinceTrain, rng: this.rng.state, trees: this.trees };
  }
}

/** Expected path length of `point`: ordinary descent, plus early isolation where it lies beyond a node's range. */
function pathLength(tree: IsolationTree, point: readonly number[]): number {
  let node = 0;
  let depth = 0;
  let reach = 1;
  let total = 0;
  while (tree.size[node] < 0) {
    const f = tree.feature[node];
    const x = point[f];
    if (tree.lo && tree.hi) {
      const lo = tree.lo[node];
      const hi = tree.hi[node];
      const beyond = x < lo ? lo - x : x > hi ? x - hi : 0;
      if (beyond > 0) {
        const p = beyond / (hi - lo + beyond);
        total += reach * p * (depth + 1);
        reach *= 1 - p;
      }
    }
    node = x < tree.threshold[node] ? tree.left[node] : tree.right[node];
    depth++;
  }
  return total + reach * (depth + averagePathLength(tree.size[node]));
}

export function createIsolationForest(config: Partial<IsolationForestConfig> = {}, state?: IsolationForestState): IsolationForest {
  return new IsolationForest({ ...defaultIsolationForestConfig, ...config }, state);
}
