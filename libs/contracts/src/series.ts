import { createHash } from 'node:crypto';
import type { Labels } from './common.schema';

/**
 * The one definition of a series' identity, used by every service (edge limits, sharding,
 * windows, exports): the metric name plus its labels sorted by name, printed as Prometheus would.
 */
export function seriesKey(name: string, labels: Labels): string {
  const parts = Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`);
  return `${name}{${parts.join(',')}}`;
}

/** Short stable id of a series: the idempotency key of its windows together with tenant and start. */
export function seriesId(name: string, labels: Labels): string {
  return createHash('sha256').update(seriesKey(name, labels)).digest('hex').slice(0, 24);
}
