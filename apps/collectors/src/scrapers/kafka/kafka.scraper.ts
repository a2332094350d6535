import type { MetricPoint } from '@headroom/contracts';
import { ConsumerLagReader } from '@headroom/kafka';
import { checkStringList, checkUnknownKeys, isObject } from '../checks';
import type { ConfigIssue, ScrapeContext, Scraper, ScraperDeps, ScraperFactory } from '../scraper';

export interface KafkaScraperConfig {
  /** Consumer groups reported; empty = every group the cluster lists (those with committed offsets). */
  groups: string[];
}

export const DEFAULT_KAFKA_SCRAPER_CONFIG: KafkaScraperConfig = { groups: [] };

/**
 * Consumer lag per group and partition on the cluster collectors itself uses (KAFKA_BROKERS and its
 * security settings): `kafka_consumergroup_lag{group,topic,partition}` (high watermark − committed
 * offset), the committed offset, the lag summed per group and topic, and each partition's end
 * offset (kafka_exporter's names). Partitions a group never committed are left out.
 */
export const kafkaScraper: ScraperFactory<KafkaScraperConfig> = {
  type: 'kafka',
  defaultConfig: DEFAULT_KAFKA_SCRAPER_CONFIG,

  validate(config: unknown): ConfigIssue[] {
    if (!isObject(config)) return [{ path: '', message: 'must be an object' }];
    const issues: ConfigIssue[] = [];
    checkUnknownKeys(config, Object.keys(DEFAULT_KAFKA_SCRAPER_CONFIG), '', issues);
    checkStringList(config, 'groups', '', issues);
    return issues;
  },

  create(config: KafkaScraperConfig, deps: ScraperDeps): Scraper {
    if (!deps.kafka) throw new Error('the kafka scraper needs the service’s Kafka client');
    const reader = new ConsumerLagReader(deps.kafka);
    return {
      async collect({ timestamp }: ScrapeContext): Promise<MetricPoint[]> {
        const lags = await reader.read(config.groups);
        const points: MetricPoint[] = [];
        const sums = new Map<string, { group: string; topic: string; lag: number }>();
        const ends = new Map<string, { topic: string; partition: string; end: number }>();
        for (const l of lags) {
          const labels = { group: l.group, topic: l.topic, partition: String(l.partition) };
          points.push({ name: 'kafka_consumergroup_lag', labels, value: l.lag, timestamp });
          points.push({ name: 'kafka_consumergroup_current_offset', labels, value: l.committed, timestamp });
          const k = `${l.group}\n${l.topic}`;
          const s = sums.get(k) ?? sums.set(k, { group: l.group, topic: l.topic, lag: 0 }).get(k)!;
          s.lag += l.lag;
          ends.set(`${l.topic}\n${l.partition}`, { topic: l.topic, partition: String(l.partition), end: l.end });
        }
        for (const s of sums.values()) points.push({ name: 'kafka_consumergroup_lag_sum', labels: { group: s.group, topic: s.topic }, value: s.lag, timestamp });
        for (const e of ends.values()) points.push({ name: 'kafka_topic_partition_current_offset', labels: { topic: e.topic, partition: e.partition }, value: e.end, timestamp });
        return points;
      },
      close: () => reader.close(),
    };
  },
};
