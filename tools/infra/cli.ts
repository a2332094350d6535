/**
 * `npm run infra:up | infra:down | infra:status`: the real Kafka, PostgreSQL and Redis that the
 * services and integration tests use, on one Debian machine without Docker or systemd.
 * Idempotent; env vars (KAFKA_BROKERS, DATABASE_URL, REDIS_URL) point at external servers instead;
 * the KAFKA_* TLS/SASL variables (docs/infra.md) apply to KAFKA_BROKERS as in the services.
 * `topics` only ensures the registry topics on KAFKA_BROKERS (deployment Job / compose init);
 * `acls [--prune]` sets the access table's ACLs there (the same Job, as a super user; ./acls.ts).
 * See docs/infra.md.
 */
import { upAcls } from './acls';
import { installAlertmanager } from './alertmanager';
import { InfraContext, createContext, ensureDirs } from './context';
import { waitForBroker } from '@headroom/kafka';
import { DEFAULT_KAFKA_BROKERS, downKafka, kafkaTargetOf, statusKafka, upKafka, upTopics } from './kafka';
import { downPostgres, statusPostgres, upPostgres } from './postgres';
import { InfraError } from './process';
import { installPrometheus } from './prometheus';
import { downRedis, statusRedis, upRedis } from './redis';
import { installVictoriaMetrics } from './victoriametrics';
import { fetchAllSearchJars } from './search';

const USAGE = 'usage: cli.ts up | down | status | topics | acls [--prune]';

async function up(ctx: InfraContext): Promise<void> {
  const started = Date.now();
  ctx.log(`logs: ${ctx.logDir}`);
  // Sequential on purpose: apt-get installs cannot run side by side (dpkg lock), and 2 cores are shared.
  const databaseUrl = await upPostgres(ctx);
  const redisUrl = await upRedis(ctx);
  await installPrometheus(ctx);
  await installAlertmanager(ctx);
  await installVictoriaMetrics(ctx);
  // Jars only: the Elasticsearch sink's specs start their own search servers.
  await fetchAllSearchJars(ctx);
  const kafkaBrokers = await upKafka(ctx);
  await upTopics(ctx, kafkaBrokers);
  ctx.log(`infra: up in ${((Date.now() - started) / 1000).toFixed(1)}s; logs in ${ctx.logDir}`);
  ctx.log('');
  ctx.log(`KAFKA_BROKERS=${kafkaBrokers}`);
  ctx.log(`DATABASE_URL=${databaseUrl}`);
  ctx.log(`REDIS_URL=${redisUrl}`);
}

async function down(ctx: InfraContext): Promise<void> {
  // Reverse order: Kafka's controlled shutdown first, then the stores.
  await downKafka(ctx);
  await downRedis(ctx);
  await downPostgres(ctx);
}

async function status(ctx: InfraContext): Promise<void> {
  for (const line of await Promise.all([statusKafka(ctx), statusPostgres(ctx), statusRedis(ctx)])) ctx.log(line);
  ctx.log(`logs: ${ctx.logDir}`);
}

/** Only the registry topics, on KAFKA_BROKERS (or the local broker): what a deployment's Job runs. */
async function topics(ctx: InfraContext): Promise<void> {
  const brokers = ctx.env.KAFKA_BROKERS || DEFAULT_KAFKA_BROKERS;
  // With the KAFKA_* TLS/SASL settings the services use (a bad one stops here, every problem listed).
  const target = kafkaTargetOf(ctx, brokers);
  try {
    await waitForBroker(target, 120_000);
  } catch (err) {
    throw new InfraError('kafka', (err as Error).message);
  }
  await upTopics(ctx, brokers);
}

/** The access table's ACLs on KAFKA_BROKERS; `--prune` also deletes its users' bindings the table lacks. */
function acls(prune: boolean): (ctx: InfraContext) => Promise<void> {
  return (ctx) => upAcls(ctx, kafkaTargetOf(ctx, ctx.env.KAFKA_BROKERS || DEFAULT_KAFKA_BROKERS), { prune });
}

async function main(argv: readonly string[]): Promise<number> {
  const command = argv[0];
  const flags = argv.slice(1);
  const commands: Record<string, (ctx: InfraContext) => Promise<void>> = { up, down, status, topics, acls: acls(flags.includes('--prune')) };
  const action = command ? commands[command] : undefined;
  const flagsOk = command === 'acls' ? flags.every((f) => f === '--prune') && flags.length <= 1 : flags.length === 0;
  if (!action || !flagsOk) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const ctx = createContext();
  // `topics` and `acls` run in read-only containers too: they write nothing locally.
  if (command !== 'topics' && command !== 'acls') ensureDirs(ctx);
  try {
    await action(ctx);
    return 0;
  } catch (err) {
    if (err instanceof InfraError) {
      process.stderr.write(`\ninfra ${command} failed at step "${err.step}": ${err.message}\n`);
      if (err.logFile) process.stderr.write(`read the log: ${err.logFile}\n`);
    } else {
      process.stderr.write(`\ninfra ${command} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    }
    process.stderr.write(`all infra logs: ${ctx.logDir}\n`);
    return 1;
  }
}

// Explicit exit: client sockets (kafkajs, ioredis, pg) must not keep the command alive.
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${String(err)}\n`);
    process.exit(1);
  },
);
