import type { ScraperFactory } from './scraper';
import { hostScraper } from './host/host.scraper';
import { httpProbeScraper } from './http-probe/http-probe.scraper';
import { kafkaScraper } from './kafka/kafka.scraper';
import { nodeRuntimeScraper } from './node-runtime/node-runtime.scraper';
import { postgresScraper } from './postgres/postgres.scraper';
import { redisScraper } from './redis/redis.scraper';
import { serviceRuntimeScraper } from './service-runtime/service-runtime.scraper';

/**
 * Every built-in scraper, by type. Adding one is adding a folder under `scrapers/` with its
 * factory, and one line here.
 */
export const SCRAPERS: readonly ScraperFactory[] = [
  hostScraper,
  redisScraper,
  httpProbeScraper,
  postgresScraper,
  nodeRuntimeScraper,
  kafkaScraper,
  serviceRuntimeScraper,
] as ScraperFactory[];

export function scraperByType(type: string): ScraperFactory | undefined {
  return SCRAPERS.find((s) => s.type === type);
}
