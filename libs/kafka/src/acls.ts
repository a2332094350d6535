/**
 * Kafka ACLs from the access table (@headroom/contracts `aclBindings`): creates the missing ALLOW
 * bindings and, with `prune`, deletes the bindings of the table's own principals that the table no
 * longer holds. Bindings of other principals (the admin, other applications sharing the cluster) are
 * never touched. Run as a principal allowed to alter the cluster's ACLs (a super user).
 */
import { AclOperationTypes, AclPermissionTypes, AclResourceTypes, Kafka, logLevel, ResourcePatternTypes, type AclEntry } from 'kafkajs';
import type { AclBinding } from '@headroom/contracts';
import { describeKafkaTarget, kafkaSecurityOptions, type KafkaTarget } from './client';

export interface ApplyAclsResult {
  created: AclBinding[];
  /** Already on the cluster. */
  kept: number;
  /** Held by a managed principal, not in the table: deleted with `prune`, else only reported. */
  extra: string[];
  pruned: boolean;
}

const RESOURCE = { topic: AclResourceTypes.TOPIC, group: AclResourceTypes.GROUP } as const;
const PATTERN = { literal: ResourcePatternTypes.LITERAL, prefixed: ResourcePatternTypes.PREFIXED } as const;
const OPERATION = { read: AclOperationTypes.READ, write: AclOperationTypes.WRITE, describe: AclOperationTypes.DESCRIBE } as const;

const key = (b: AclBinding) => [b.principal, b.resourceType, b.patternType, b.resourceName, b.operation].join('|');

const entryOf = (b: AclBinding): AclEntry => ({
  resourceType: RESOURCE[b.resourceType],
  resourceName: b.resourceName,
  resourcePatternType: PATTERN[b.patternType],
  principal: b.principal,
  host: '*',
  operation: OPERATION[b.operation],
  permissionType: AclPermissionTypes.ALLOW,
});

const invert = <K extends string>(m: Record<K, number>) => new Map(Object.entries(m).map(([k, v]) => [v as number, k as K]));
const RESOURCE_NAME = invert(RESOURCE);
const PATTERN_NAME = invert(PATTERN);
const OPERATION_NAME = invert(OPERATION);

/** A binding read from the cluster in the table's terms (`undefined`: one the table cannot hold, e.g. a DENY). */
function bindingOf(e: AclEntry): AclBinding | undefined {
  const resourceType = RESOURCE_NAME.get(e.resourceType);
  const patternType = PATTERN_NAME.get(e.resourcePatternType);
  const operation = OPERATION_NAME.get(e.operation);
  if (resourceType && patternType && operation && e.permissionType === AclPermissionTypes.ALLOW && e.host === '*') {
    return { resourceType, patternType, operation, resourceName: e.resourceName, principal: e.principal };
  }
  return undefined;
}

/** kafkajs' enums are plain objects at run time (no reverse mapping): names by value. */
const namesOf = (o: object) => new Map(Object.entries(o).map(([k, v]) => [v as number, k]));
const NAMES = { permission: namesOf(AclPermissionTypes), operation: namesOf(AclOperationTypes), resource: namesOf(AclResourceTypes), pattern: namesOf(ResourcePatternTypes) };

const describe = (e: AclEntry): string =>
  `${e.principal} ${NAMES.permission.get(e.permissionType)} ${NAMES.operation.get(e.operation)} on ${NAMES.resource.get(e.resourceType)} ${NAMES.pattern.get(e.resourcePatternType)} ${JSON.stringify(e.resourceName)} from ${e.host}`;

export async function applyAcls(target: KafkaTarget, bindings: readonly AclBinding[], opts: { prune?: boolean; timeoutMs?: number } = {}): Promise<ApplyAclsResult> {
  const kafka = new Kafka({
    clientId: 'headroom-acls',
    brokers: [...target.brokers],
    ...kafkaSecurityOptions(target.security),
    logLevel: logLevel.ERROR,
    retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 2_000 },
  });
  const admin = kafka.admin();
  const timeoutMs = opts.timeoutMs ?? 60_000;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`applyAcls on ${describeKafkaTarget(target)} did not finish within ${timeoutMs} ms`)), timeoutMs);
  });
  const work = (async (): Promise<ApplyAclsResult> => {
    await admin.connect();
    try {
      const managed = new Set(bindings.map((b) => b.principal));
      const wanted = new Set(bindings.map(key));
      const present = new Set<string>();
      const stale: AclEntry[] = [];
      const described = await admin.describeAcls({
        resourceType: AclResourceTypes.ANY,
        resourcePatternType: ResourcePatternTypes.ANY,
        operation: AclOperationTypes.ANY,
        permissionType: AclPermissionTypes.ANY,
      });
      for (const r of described.resources) {
        for (const acl of r.acls) {
          if (!managed.has(acl.principal)) continue;
          const entry: AclEntry = { resourceType: r.resourceType, resourceName: r.resourceName, resourcePatternType: r.resourcePatternType, ...acl };
          const b = bindingOf(entry);
          if (b && wanted.has(key(b))) present.add(key(b));
          else stale.push(entry);
        }
      }
      const missing = bindings.filter((b) => !present.has(key(b)));
      if (missing.length) await admin.createAcls({ acl: missing.map(entryOf) });
      if (opts.prune && stale.length) {
        // Exact filters: each matches the one binding it was read from.
        const deleted = await admin.deleteAcls({ filters: stale });
        for (const f of deleted.filterResponses) {
          if (f.errorCode !== 0) throw new Error(`deleteAcls: ${f.errorMessage ?? `error ${f.errorCode}`}`);
        }
      }
      const result: ApplyAclsResult = { created: missing, kept: bindings.length - missing.length, extra: stale.map(describe), pruned: !!opts.prune };
      return result;
    } finally {
      await admin.disconnect();
    }
  })();
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
