/**
 * Checks what `npm run infra:up` promises, against the running servers:
 * broker answers, registry topics exist as specified, PostgreSQL and Redis answer, and a
 * second `up` is a quick no-op. Run after infra:up: `npx jest -c jest.int.config.js tools/infra`.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import Redis from 'ioredis';
import { Client } from 'pg';
import { Topics, allTopics } from '@headroom/contracts';
import { describeTopics, waitForBroker } from '@headroom/kafka';

const root = path.resolve(__dirname, '..', '..');
const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const databaseUrl = process.env.DATABASE_URL ?? 'postgres://headroom:headroom@127.0.0.1:5432/headroom';
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

function runCli(args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-r', '@swc-node/register', path.join(root, 'tools/infra/cli.ts'), ...args], {
      cwd: root,
      env: process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, output }));
  });
}

describe('infra:up', () => {
  it('has a Kafka broker that answers', async () => {
    await expect(waitForBroker(brokers, 10_000)).resolves.toBeUndefined();
  });

  it('created every registry topic with its partition count and configs', async () => {
    const described = await describeTopics(
      brokers,
      allTopics.map((t) => t.name),
    );
    const byName = new Map(described.map((t) => [t.name, t]));
    for (const spec of allTopics) {
      const topic = byName.get(spec.name);
      expect(topic).toBeDefined();
      expect(topic?.partitions).toBeGreaterThanOrEqual(spec.partitions);
      for (const [key, value] of Object.entries(spec.config)) expect([spec.name, key, topic?.config[key]]).toEqual([spec.name, key, value]);
    }
    expect(byName.get(Topics.control.name)?.config['cleanup.policy']).toBe('compact');
  });

  it('has PostgreSQL accepting the headroom role', async () => {
    const client = new Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5_000 });
    await client.connect();
    try {
      const result = await client.query<{ one: number }>('select 1 as one');
      expect(result.rows[0]?.one).toBe(1);
    } finally {
      await client.end();
    }
  });

  it('has Redis answering PING', async () => {
    const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    try {
      expect(await redis.ping()).toBe('PONG');
    } finally {
      redis.disconnect();
    }
  });

  it('does nothing on a second up and says so', async () => {
    const { code, output } = await runCli(['up']);
    expect({ code, output }).toEqual({ code: 0, output: expect.stringContaining('already running') });
    if (!process.env.KAFKA_BROKERS) expect(output).toContain('kafka: already running on 127.0.0.1:9092');
    expect(output).toContain('topics: all');
    expect(output).toMatch(/^KAFKA_BROKERS=/m);
  });
});
