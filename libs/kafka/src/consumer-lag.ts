import type { Admin, Kafka } from 'kafkajs';

/** One partition of a consumer group: its committed offset, the partition's end, and the difference. */
export interface PartitionLag {
  group: string;
  topic: string;
  partition: number;
  committed: number;
  end: number;
  lag: number;
}

/**
 * Consumer lag per group and partition (what kafka_exporter and Burrow report), for the collectors'
 * `kafka` scraper: committed offsets (OffsetFetch) against the partitions' high watermarks
 * (ListOffsets). Partitions a group never committed are left out (their lag is not defined).
 * One admin connection, kept between reads and reopened after a failure.
 */
export class ConsumerLagReader {
  private admin: Admin | undefined;

  constructor(private readonly kafka: Kafka) {}

  /** `groups`: these groups only; empty or absent: every group the cluster lists. */
  async read(groups: readonly string[] = []): Promise<PartitionLag[]> {
    if (!this.admin) {
      const admin = this.kafka.admin();
      await admin.connect();
      this.admin = admin;
    }
    const admin = this.admin;
    try {
      const names = groups.length ? [...groups] : (await admin.listGroups()).groups.map((g) => g.groupId);
      const ends = new Map<string, Map<number, number>>();
      const out: PartitionLag[] = [];
      for (const group of names) {
        for (const { topic, partitions } of await admin.fetchOffsets({ groupId: group })) {
          for (const p of partitions) {
            const committed = Number(p.offset);
            if (!(committed >= 0)) continue;
            if (!ends.has(topic)) ends.set(topic, new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, Number(o.high)])));
            const end = ends.get(topic)!.get(p.partition);
            if (end === undefined) continue;
            out.push({ group, topic, partition: p.partition, committed, end, lag: Math.max(0, end - committed) });
          }
        }
      }
      return out;
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  async close(): Promise<void> {
    const admin = this.admin;
    this.admin = undefined;
    await admin?.disconnect().catch(() => undefined);
  }
}
