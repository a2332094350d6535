/**
 * A stand-in for a publisher (RecordPublisher.publish, collectors' TelemetrySink, the publisher
 * library's TelemetrySink) whose calls the spec settles: a slow, stalled or failing broker without a
 * broker. `hold` keeps every call pending until `ack`/`fail`; `{ delayMs }` acknowledges each call
 * after a delay, one at a time in order (one request in flight, as the idempotent producer does).
 */
export interface ManualSinkCall<R> {
  records: R[];
  /** When the call was made (Date.now()). */
  at: number;
  state: 'pending' | 'acked' | 'failed';
}

export class ManualSink<R> {
  readonly calls: ManualSinkCall<R>[] = [];
  private readonly settlers = new Map<ManualSinkCall<R>, { resolve(): void; reject(err: Error): void }>();
  private chain: Promise<void> = Promise.resolve();
  /** Called at the start of every publish (e.g. to sample the publisher's stats). */
  onPublish: ((records: R[]) => void) | undefined;

  constructor(private readonly mode: 'hold' | { delayMs: number } = 'hold') {}

  publish = (records: R[]): Promise<void> => {
    const call: ManualSinkCall<R> = { records, at: Date.now(), state: 'pending' };
    this.calls.push(call);
    this.onPublish?.(records);
    const done = new Promise<void>((resolve, reject) => this.settlers.set(call, { resolve, reject }));
    if (this.mode !== 'hold') {
      const delayMs = this.mode.delayMs;
      this.chain = this.chain.then(() => new Promise<void>((r) => setTimeout(r, delayMs))).then(() => this.settle(call, undefined));
    }
    return done;
  };

  pending(): ManualSinkCall<R>[] {
    return this.calls.filter((c) => c.state === 'pending');
  }

  /** Acknowledges the oldest `n` pending calls (all by default); returns how many. */
  ack(n = Infinity): number {
    const calls = this.pending().slice(0, n);
    for (const c of calls) this.settle(c, undefined);
    return calls.length;
  }

  /** Fails the oldest `n` pending calls with `err`. */
  fail(err: Error, n = Infinity): number {
    const calls = this.pending().slice(0, n);
    for (const c of calls) this.settle(c, err);
    return calls.length;
  }

  /** Every record of acknowledged calls, in call order. */
  acked(): R[] {
    return this.calls.filter((c) => c.state === 'acked').flatMap((c) => c.records);
  }

  private settle(call: ManualSinkCall<R>, err: Error | undefined): void {
    const s = this.settlers.get(call);
    if (!s || call.state !== 'pending') return;
    this.settlers.delete(call);
    call.state = err ? 'failed' : 'acked';
    if (err) s.reject(err);
    else s.resolve();
  }
}
