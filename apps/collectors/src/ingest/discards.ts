import { Inject, Injectable } from '@nestjs/common';
import { Counter, type Registry } from 'prom-client';
import { METRICS } from '@headroom/runtime';

/**
 * Nothing refused is dropped silently: every refused sample and event is counted per tenant and
 * reason (Mimir's cortex_discarded_samples_total), and requests refused before their body is read
 * (401, 413, 409, 503) are counted per tenant and reason too, since their samples cannot be.
 */
@Injectable()
export class DiscardCounters {
  readonly samples: Counter<'tenant' | 'reason'>;
  readonly events: Counter<'tenant' | 'reason'>;
  readonly requests: Counter<'tenant' | 'reason'>;

  constructor(@Inject(METRICS) metrics: Registry) {
    this.samples = new Counter({
      name: 'headroom_discarded_samples_total',
      help: 'Metric points refused at the edge, per tenant and reason (nothing of a refused batch is published).',
      labelNames: ['tenant', 'reason'],
      registers: [metrics],
    });
    this.events = new Counter({
      name: 'headroom_discarded_events_total',
      help: 'Platform events refused at the edge, per tenant and reason.',
      labelNames: ['tenant', 'reason'],
      registers: [metrics],
    });
    this.requests = new Counter({
      name: 'headroom_ingest_refused_requests_total',
      help: 'Ingest requests refused, per tenant (unknown before authentication) and reason.',
      labelNames: ['tenant', 'reason'],
      registers: [metrics],
    });
  }

  discard(tenant: string, points: Map<string, number> | [string, number][], events: Map<string, number> | [string, number][] = []): void {
    for (const [reason, n] of points) if (n > 0) this.samples.inc({ tenant, reason }, n);
    for (const [reason, n] of events) if (n > 0) this.events.inc({ tenant, reason }, n);
  }
}
