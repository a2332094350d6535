import { DDSketch } from '@datadog/sketches-js';
import { SKETCH_RELATIVE_ACCURACY } from './aggregate.schema';

/**
 * The quantile sketch of a window (DDSketch, relative accuracy 1%): the codec of the aggregate's
 * `sketch` field and the quantile read-out every service uses, so all agree on the same numbers.
 * The protobuf form keeps the bins only; count, sum, min and max travel beside it, exactly.
 */
export function newSketch(): DDSketch {
  return new DDSketch({ relativeAccuracy: SKETCH_RELATIVE_ACCURACY });
}

export function encodeSketch(sketch: DDSketch): string {
  return Buffer.from(sketch.toProto()).toString('base64');
}

export function sketchBytes(sketch: DDSketch): Buffer {
  return Buffer.from(sketch.toProto());
}

/** Decodes a sketch and restores the exact statistics the protobuf form drops. */
export function decodeSketch(data: string | Uint8Array, exact: { min: number; max: number; sum: number }): DDSketch {
  const sketch = DDSketch.fromProto(typeof data === 'string' ? Buffer.from(data, 'base64') : data);
  sketch.min = exact.min;
  sketch.max = exact.max;
  sketch.sum = exact.sum;
  return sketch;
}

/**
 * The q-quantile as DDSketch defines it (the value of rank q·(n−1) among the n sorted values, within
 * 1%), clamped to the exact [min, max] — a bin's midpoint may fall just outside them — and exact at
 * q = 0 and q = 1.
 */
export function sketchQuantile(sketch: DDSketch, q: number): number {
  if (sketch.count === 0) return NaN;
  if (q <= 0) return sketch.min;
  if (q >= 1) return sketch.max;
  const v = sketch.getValueAtQuantile(q);
  return Math.min(sketch.max, Math.max(sketch.min, v));
}

/**
 * Merges `from` into `into`. @datadog/sketches-js 2.1.1's `merge` forgets the negative values of
 * `from` whenever `into` is not empty (it merges the positive store only): merged here as well, so
 * windows with negative values roll up exactly like the others (tested in window-sketch.spec.ts).
 */
export function mergeSketch(into: DDSketch, from: DDSketch): void {
  const wasEmpty = into.count === 0;
  into.merge(from);
  if (!wasEmpty && from.negativeStore.count > 0) into.negativeStore.merge(from.negativeStore);
}
