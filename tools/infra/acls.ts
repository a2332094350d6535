/**
 * `cli.ts acls [--prune]`: the Kafka ACLs of the access table (libs/contracts topic-access.ts) on
 * KAFKA_BROKERS, as the deployment Job runs it after `topics`. Connects with the KAFKA_* settings,
 * which must be a super user's (or one allowed to alter ACLs). The table's inputs come from the
 * environment, with the services' own names where they have one:
 *   KAFKA_ACL_USER_<SERVICE> or KAFKA_ACL_USER_<SERVICE>_FILE   each service's Kafka user (default: the service name)
 *   ANALYTICS_GROUP_ID, ALERTING_GROUP_ID, EXPORTERS_GROUP_ID    as given to those services
 *   KAFKA_ACL_LAG_GROUPS                                         groups the collectors' lag scraper may describe (`*`, `prefix*`, names)
 */
import * as fs from 'node:fs';
import { aclBindings, HEADROOM_SERVICES, topicAccess, type HeadroomService, type TopicAccessOptions } from '@headroom/contracts';
import { applyAcls, describeKafkaTarget, waitForBroker, type KafkaTarget } from '@headroom/kafka';
import type { InfraContext } from './context';
import { InfraError } from './process';

type Env = Record<string, string | undefined>;

const value = (env: Env, key: string): string | undefined => {
  const v = env[key]?.trim();
  return v ? v : undefined;
};

/** The table's options from the environment; every problem at once, with its key. */
export function accessOptionsFromEnv(env: Env): TopicAccessOptions {
  const problems: string[] = [];
  const users: Partial<Record<HeadroomService, string>> = {};
  for (const service of HEADROOM_SERVICES) {
    const key = `KAFKA_ACL_USER_${service.toUpperCase()}`;
    const direct = value(env, key);
    const file = value(env, `${key}_FILE`);
    if (direct && file) problems.push(`${key}_FILE: set either ${key} or ${key}_FILE, not both`);
    let user = direct;
    if (file && !direct) {
      try {
        // Mounted Secret files often end with a newline that is not part of the name.
        user = fs.readFileSync(file, 'utf8').replace(/\r?\n$/, '');
      } catch (err) {
        problems.push(`${key}_FILE: ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      }
    }
    if (user !== undefined && !/^[^\s*:]+$/.test(user)) problems.push(`${direct ? key : `${key}_FILE`}: not a Kafka user name (no spaces, '*' or ':')`);
    else if (user !== undefined) users[service] = user;
  }
  const groupIds: TopicAccessOptions['groupIds'] = {
    analytics: value(env, 'ANALYTICS_GROUP_ID'),
    alerting: value(env, 'ALERTING_GROUP_ID'),
    exporters: value(env, 'EXPORTERS_GROUP_ID'),
  };
  const lagGroups = (value(env, 'KAFKA_ACL_LAG_GROUPS') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const g of lagGroups) {
    if (g !== '*' && g.slice(0, -1).includes('*')) problems.push(`KAFKA_ACL_LAG_GROUPS: ${JSON.stringify(g)}: '*' only alone or at the end`);
  }
  if (problems.length) throw new InfraError('acls: settings', problems.join('\n'));
  const opts = { users, groupIds, lagGroups };
  try {
    topicAccess(opts);
  } catch (err) {
    throw new InfraError('acls: settings', (err as Error).message);
  }
  return opts;
}

export async function upAcls(ctx: InfraContext, target: KafkaTarget, opts: { prune: boolean }): Promise<void> {
  const bindings = aclBindings(topicAccess(accessOptionsFromEnv(ctx.env)));
  try {
    await waitForBroker(target, 120_000);
  } catch (err) {
    throw new InfraError('kafka', (err as Error).message);
  }
  let result;
  try {
    result = await applyAcls(target, bindings, { prune: opts.prune });
  } catch (err) {
    const message = (err as Error).message;
    const hint = /SECURITY_DISABLED|no authorizer/i.test(message) ? ' (the broker runs without an authorizer: nothing to apply ACLs to)' : '';
    throw new InfraError('acls', `applying the ACLs on ${describeKafkaTarget(target)} failed: ${message}${hint}`);
  }
  ctx.log(`acls: ${result.created.length} created, ${result.kept} already there (${bindings.length} in the table)`);
  for (const b of result.created) ctx.log(`  + ${b.principal} ${b.operation} ${b.resourceType} ${b.patternType === 'prefixed' ? `${b.resourceName}*` : b.resourceName}`);
  if (result.extra.length) {
    ctx.log(`acls: ${result.extra.length} binding(s) of the table's users not in the table${result.pruned ? ', deleted' : ' (kept; --prune deletes them)'}:`);
    for (const e of result.extra) ctx.log(`  ${result.pruned ? '-' : '?'} ${e}`);
  }
}
