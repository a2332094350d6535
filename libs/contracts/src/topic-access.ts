/**
 * Who may do what on the cluster: the one table the Kafka ACLs are made from (`tools/infra/cli.ts
 * acls`, the deployment Job). Each service authenticates as its own Kafka user (`User:<service>` by
 * default) and may produce only to its own outputs plus audit and dlq; control alone produces to
 * the control topic, which is what makes a control record's origin mean something before its
 * signature is even checked. Everything not granted here is refused by the broker
 * (`allow.everyone.if.no.acl.found=false`).
 */
import { Topics, type TopicName } from './topics';

export const HEADROOM_SERVICES = ['collectors', 'analytics', 'alerting', 'exporters', 'control'] as const;
export type HeadroomService = (typeof HEADROOM_SERVICES)[number];

/** A consumer group name, or every group starting with it. */
export interface GroupGrant {
  readonly name: string;
  readonly pattern: 'literal' | 'prefixed';
}

export interface ServiceAccess {
  readonly service: HeadroomService;
  /** Kafka principal, e.g. `User:control` (SASL user name `control`). */
  readonly principal: string;
  readonly produces: readonly TopicName[];
  readonly consumes: readonly TopicName[];
  /** Groups it may join and commit in (READ on the group). */
  readonly groups: readonly GroupGrant[];
  /**
   * Groups whose committed offsets it may read without joining them (DESCRIBE on the group, and on
   * every registry topic for the partitions' ends): the collectors' `kafka` lag scraper only.
   */
  readonly describesGroups: readonly GroupGrant[];
}

export interface TopicAccessOptions {
  /** Kafka user name per service (default: the service name). */
  readonly users?: Partial<Record<HeadroomService, string>>;
  /** The configurable consumer group ids (ANALYTICS_GROUP_ID, ALERTING_GROUP_ID, EXPORTERS_GROUP_ID). */
  readonly groupIds?: Partial<Record<'analytics' | 'alerting' | 'exporters', string>>;
  /**
   * Groups the collectors' lag scraper may describe (default none: the scraper then lists no group).
   * `*` alone means every group; a trailing `*` makes a prefix.
   */
  readonly lagGroups?: readonly string[];
}

const T = Topics;

/** The consumer group a service's control-topic reader joins: `<service>-control-<uuid>` (libs/tenancy). */
const controlReader = (service: HeadroomService): GroupGrant => ({ name: `${service}-control-`, pattern: 'prefixed' });

/** A configured group id and the groups derived from it (`<id>-signals`, `<id>-dispatch`, `<id>-<sink>`). */
const groupFamily = (id: string): GroupGrant[] => [
  { name: id, pattern: 'literal' },
  { name: `${id}-`, pattern: 'prefixed' },
];

function lagGrant(spec: string): GroupGrant {
  if (spec === '*') return { name: '*', pattern: 'literal' };
  return spec.endsWith('*') ? { name: spec.slice(0, -1), pattern: 'prefixed' } : { name: spec, pattern: 'literal' };
}

/** The table, from the deployment's user names and group ids. */
export function topicAccess(opts: TopicAccessOptions = {}): ServiceAccess[] {
  const principal = (s: HeadroomService) => `User:${opts.users?.[s] ?? s}`;
  const group = (s: 'analytics' | 'alerting' | 'exporters') => opts.groupIds?.[s] ?? s;
  // Every service acknowledges GDPR erasures (counts only, no tenant data) on the erasure topic.
  const shared = [T.audit.name, T.dlq.name, T.erasure.name];
  const table: ServiceAccess[] = [
    {
      service: 'collectors',
      principal: principal('collectors'),
      produces: [T.telemetry.name, ...shared],
      consumes: [T.control.name],
      groups: [controlReader('collectors')],
      describesGroups: (opts.lagGroups ?? []).map(lagGrant),
    },
    {
      service: 'analytics',
      principal: principal('analytics'),
      produces: [T.aggregates.name, T.signals.name, ...shared],
      consumes: [T.telemetry.name, T.control.name],
      groups: [...groupFamily(group('analytics')), controlReader('analytics')],
      describesGroups: [],
    },
    {
      service: 'alerting',
      principal: principal('alerting'),
      produces: [T.alerts.name, ...shared],
      // Alerts too: the dispatch consumer reads the transitions alerting itself published.
      consumes: [T.aggregates.name, T.signals.name, T.alerts.name, T.control.name],
      groups: [...groupFamily(group('alerting')), controlReader('alerting')],
      describesGroups: [],
    },
    {
      service: 'exporters',
      principal: principal('exporters'),
      produces: [...shared],
      consumes: [T.aggregates.name, T.control.name],
      groups: [...groupFamily(group('exporters')), controlReader('exporters')],
      describesGroups: [],
    },
    {
      service: 'control',
      principal: principal('control'),
      produces: [T.control.name, ...shared],
      consumes: [T.audit.name, T.control.name, T.erasure.name],
      groups: [{ name: 'control-audit', pattern: 'literal' }, { name: 'control-erasure', pattern: 'literal' }, controlReader('control')],
      describesGroups: [],
    },
  ];
  const problems = topicAccessProblems(table);
  if (problems.length) throw new Error(`topic access table: ${problems.join('; ')}`);
  return table;
}

const covers = (g: GroupGrant, name: string): boolean => (g.pattern === 'literal' ? g.name === name || g.name === '*' : name.startsWith(g.name));

/**
 * What would make the table unsafe: two services sharing a principal (their grants would merge),
 * a service able to join another's groups (it could steal its partitions or move its offsets),
 * or anyone but control writing the control topic.
 */
export function topicAccessProblems(table: readonly ServiceAccess[]): string[] {
  const problems: string[] = [];
  const seen = new Map<string, HeadroomService>();
  for (const a of table) {
    if (!/^User:[^\s*]+$/.test(a.principal)) problems.push(`${a.service}: principal ${JSON.stringify(a.principal)} is not User:<name>`);
    const other = seen.get(a.principal);
    if (other) problems.push(`${a.service} and ${other} share the principal ${a.principal}`);
    seen.set(a.principal, a.service);
    if (a.service !== 'control' && a.produces.includes(T.control.name)) problems.push(`${a.service} may not produce to ${T.control.name}`);
    for (const g of a.groups) {
      if (g.name === '' || g.name === '*' || g.name.includes('*')) problems.push(`${a.service}: group ${JSON.stringify(g.name)} is not a group name or prefix`);
    }
  }
  for (const a of table) {
    for (const b of table) {
      if (a === b) continue;
      for (const ga of a.groups) {
        for (const gb of b.groups) {
          // A group name both could join: the literal one, or the longer prefix inside the shorter.
          const probe = ga.name.length >= gb.name.length ? ga.name : gb.name;
          if (covers(ga, probe) && covers(gb, probe) && a.service < b.service) {
            problems.push(`${a.service} and ${b.service} could both join group ${JSON.stringify(probe)}`);
          }
        }
      }
    }
  }
  return problems;
}

/** One Kafka ACL binding (ALLOW, any host), in the broker's terms but no client's types. */
export interface AclBinding {
  readonly resourceType: 'topic' | 'group';
  readonly resourceName: string;
  readonly patternType: 'literal' | 'prefixed';
  readonly principal: string;
  readonly operation: 'read' | 'write' | 'describe';
}

/**
 * The ACL bindings of the table. WRITE on a topic implies DESCRIBE, READ on a topic or group implies
 * DESCRIBE; the idempotent producer needs no IDEMPOTENT_WRITE on the cluster since Kafka 3.0 (KIP-679:
 * WRITE on any topic is enough — the int spec's producers hold no cluster grant).
 */
export function aclBindings(table: readonly ServiceAccess[]): AclBinding[] {
  const out = new Map<string, AclBinding>();
  const add = (b: AclBinding) => out.set(aclBindingKey(b), b);
  for (const a of table) {
    for (const topic of a.produces) add({ resourceType: 'topic', resourceName: topic, patternType: 'literal', principal: a.principal, operation: 'write' });
    for (const topic of a.consumes) add({ resourceType: 'topic', resourceName: topic, patternType: 'literal', principal: a.principal, operation: 'read' });
    for (const g of a.groups) add({ resourceType: 'group', resourceName: g.name, patternType: g.pattern, principal: a.principal, operation: 'read' });
    for (const g of a.describesGroups) add({ resourceType: 'group', resourceName: g.name, patternType: g.pattern, principal: a.principal, operation: 'describe' });
    if (a.describesGroups.length) {
      for (const t of Object.values(Topics)) add({ resourceType: 'topic', resourceName: t.name, patternType: 'literal', principal: a.principal, operation: 'describe' });
    }
  }
  return [...out.values()];
}

/** Identity of a binding, for comparing what the cluster holds with the table. */
export function aclBindingKey(b: AclBinding): string {
  return [b.principal, b.resourceType, b.patternType, b.resourceName, b.operation].join('|');
}
