/**
 * Drives one client in one mode for a warm-up then a measured window, and reports what was
 * acknowledged inside the window: records/s, MB/s, send→ack latency, and CPU of this Node process
 * (user + system, every thread: librdkafka's run inside it) per 1,000 records.
 */
import type { ClientDriver } from './drivers';
import { recordAt, type BenchRecord, type RecordSet } from './records';

/**
 * serial: one record per send, each awaited before the next (what one HTTP request waiting for its
 * own round trip sees). concurrent: `concurrency` single-record sends in flight at once, batched (or
 * not) by the client itself. grouped: `concurrency` callers queue records and one send in flight
 * carries everything queued, as libs/kafka's RecordPublisher does (group commit).
 */
export type Mode = 'serial' | 'concurrent' | 'grouped';

export interface ModeResult {
  records: number;
  seconds: number;
  recordsPerSecond: number;
  mbPerSecond: number;
  ackMs: { p50: number; p99: number; max: number };
  /** null when nothing was acknowledged. */
  cpuMsPer1000Records: number | null;
  /** CPU seconds of the process per wall second (1 = one core busy). */
  cpuCores: number;
  /** Every record acknowledged in this mode, warm-up included (checked against the topic's offsets). */
  ackedTotal: number;
  errors: number;
  firstError?: string;
}

export interface MeasureOptions {
  warmupSeconds: number;
  seconds: number;
  concurrency: number;
  /** Upper bound of one grouped send (bytes), as libs/kafka keeps a request under the topic's limit. */
  groupMaxBytes: number;
}

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

function percentile(sorted: number[], q: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** The message of an error and of the errors it aggregates (clients wrap the broker's error code). */
function describeError(err: unknown): string {
  const e = err as Error & { errors?: unknown[] };
  const inner = Array.isArray(e.errors) ? e.errors.map(describeError) : [];
  return [e.message, ...new Set(inner)].join(' <- ');
}

/** Group commit: queued records go out in the next send once the one in flight is acknowledged. */
class GroupCommit {
  private queue: { record: BenchRecord; resolve(): void; reject(err: Error): void }[] = [];
  private sending = false;

  constructor(
    private readonly driver: ClientDriver,
    private readonly maxBytes: number,
  ) {}

  publish(record: BenchRecord): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ record, resolve, reject });
      this.kick();
    });
  }

  private kick(): void {
    if (this.sending || this.queue.length === 0) return;
    this.sending = true;
    let bytes = 0;
    let n = 0;
    while (n < this.queue.length && (n === 0 || bytes + this.queue[n].record.bytes <= this.maxBytes)) bytes += this.queue[n++].record.bytes;
    const batch = this.queue.splice(0, n);
    this.driver
      .send(batch.map((b) => b.record))
      .then(
        () => batch.forEach((b) => b.resolve()),
        (err: Error) => batch.forEach((b) => b.reject(err)),
      )
      .finally(() => {
        this.sending = false;
        this.kick();
      });
  }
}

export async function measure(driver: ClientDriver, mode: Mode, set: RecordSet, opts: MeasureOptions): Promise<ModeResult> {
  const workers = mode === 'serial' ? 1 : opts.concurrency;
  const group = mode === 'grouped' ? new GroupCommit(driver, opts.groupMaxBytes) : undefined;
  const sendOne = (r: BenchRecord) => (group ? group.publish(r) : driver.send([r]));
  const start = performance.now();
  const windowStart = start + opts.warmupSeconds * 1000;
  const windowEnd = windowStart + opts.seconds * 1000;
  let cpuAtStart: NodeJS.CpuUsage | undefined;
  let cpuAtEnd: NodeJS.CpuUsage | undefined;
  const latencies: number[] = [];
  let acked = 0;
  let ackedTotal = 0;
  let bytes = 0;
  let errors = 0;
  let firstError: string | undefined;
  let next = 0;
  // Marks the window's edges on the event loop, whatever the sends are doing.
  const startTimer = setTimeout(() => (cpuAtStart = process.cpuUsage()), windowStart - start);
  const endTimer = setTimeout(() => (cpuAtEnd = process.cpuUsage()), windowEnd - start);
  const worker = async () => {
    while (performance.now() < windowEnd) {
      const r = recordAt(set, next++);
      const t0 = performance.now();
      try {
        await sendOne(r);
      } catch (err) {
        errors++;
        firstError ??= describeError(err);
        continue;
      }
      const t1 = performance.now();
      ackedTotal++;
      // Throughput counts acks inside the window; latency only sends wholly inside it.
      if (t1 >= windowStart && t1 <= windowEnd) {
        acked++;
        bytes += r.bytes;
        if (t0 >= windowStart) latencies.push(t1 - t0);
      }
    }
  };
  await Promise.all(Array.from({ length: workers }, worker));
  clearTimeout(startTimer);
  clearTimeout(endTimer);
  const cpu = cpuAtStart && cpuAtEnd ? (cpuAtEnd.user - cpuAtStart.user + cpuAtEnd.system - cpuAtStart.system) / 1e6 : NaN;
  latencies.sort((a, b) => a - b);
  return {
    records: acked,
    seconds: opts.seconds,
    recordsPerSecond: Math.round(acked / opts.seconds),
    mbPerSecond: round(bytes / opts.seconds / 1e6),
    ackMs: { p50: round(percentile(latencies, 0.5), 2), p99: round(percentile(latencies, 0.99), 2), max: round(latencies[latencies.length - 1] ?? NaN, 2) },
    cpuMsPer1000Records: acked > 0 ? round((cpu * 1e6) / acked, 1) : null,
    cpuCores: round(cpu / opts.seconds, 2),
    ackedTotal,
    errors,
    ...(firstError ? { firstError: firstError.slice(0, 300) } : {}),
  };
}
