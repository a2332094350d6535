import type { MetricPoint } from '@headroom/contracts';
import type { KafkaClient } from '@headroom/kafka';
import type { Logger } from '@headroom/runtime';

/** One problem with a scraper's configuration, with its path (the Collector's confmap style). */
export interface ConfigIssue {
  path: string;
  message: string;
}

/** What a scraper gets besides its config. */
export interface ScraperDeps {
  logger: Logger;
  /** This replica's identity (`<hostname>/<pid>`), for scrapers that measure the replica itself. */
  instance: string;
  /** The service's own Kafka client (KAFKA_BROKERS and its security settings), for the `kafka` scraper. */
  kafka?: KafkaClient;
  /** The deployment's HEADROOM_METRICS_TOKEN: Headroom services' own /metrics require it (service_runtime sends it). */
  metricsToken?: string;
}

/** One scrape: every point carries `timestamp` (the cycle's slot, so duplicates would be visible). */
export interface ScrapeContext {
  timestamp: number;
  /** Aborted when the cycle's timeout passes: a scraper stops waiting and rejects. */
  signal: AbortSignal;
}

export interface Scraper {
  collect(ctx: ScrapeContext): Promise<MetricPoint[]>;
  /** Releases connections (called once, at shutdown). */
  close?(): Promise<void>;
}

/**
 * A built-in collector, in the OpenTelemetry Collector's receiver (scraper) shape: a type name, a
 * default config, `validate()` listing every problem with its path, and `create()`. The scheduler
 * (./scheduler.ts) runs it every interval under a Redis lease and publishes what it returns through
 * the ingest edge (`IngestService.submit`), like any other way in.
 */
export interface ScraperFactory<C extends object = object> {
  /** Type name, e.g. `redis`; the batches it publishes have `source: scraper:<type>`. */
  readonly type: string;
  readonly defaultConfig: C;
  /**
   * `cluster` (default): one replica scrapes per interval (a lease per tenant + scraper).
   * `replica`: every replica scrapes itself (its lease key carries the replica's identity).
   */
  readonly scope?: 'cluster' | 'replica';
  /** Every problem of `config` (defaults already merged in), paths relative to the scraper's entry. */
  validate(config: unknown): ConfigIssue[];
  create(config: C, deps: ScraperDeps): Scraper;
}
