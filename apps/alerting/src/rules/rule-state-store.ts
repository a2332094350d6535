import type Redis from 'ioredis';
import type { RuleEvaluatorState } from '@headroom/rules';

/** 30 days, refreshed on every write: longer than any incident, short enough that gone tenants go away. */
export const RULE_STATE_TTL_SECONDS = 2_592_000;
export const RULE_STATE_STORE = Symbol('RULE_STATE_STORE');

/**
 * Durable rule lifecycle state per tenant (pending since, firing since, keep-firing since, last
 * instant evaluated), so a restart or a rebalance resumes each alert where it was: a firing alert
 * keeps its startsAt and resolves once; a pending one keeps counting its `for`.
 */
export interface RuleStateStore {
  load(tenant: string): Promise<RuleEvaluatorState | undefined>;
  save(tenant: string, state: RuleEvaluatorState): Promise<void>;
  eraseTenant(tenant: string): Promise<number>;
}

export class RedisRuleStateStore implements RuleStateStore {
  constructor(private readonly redis: Redis) {}

  static key(tenant: string): string {
    return `hr:rules:${tenant}`;
  }

  async load(tenant: string): Promise<RuleEvaluatorState | undefined> {
    const raw = await this.redis.get(RedisRuleStateStore.key(tenant));
    if (!raw) return undefined;
    try {
      const state = JSON.parse(raw) as RuleEvaluatorState;
      return state && typeof state.rules === 'object' ? state : undefined;
    } catch {
      return undefined;
    }
  }

  async save(tenant: string, state: RuleEvaluatorState): Promise<void> {
    await this.redis.set(RedisRuleStateStore.key(tenant), JSON.stringify(state), 'EX', RULE_STATE_TTL_SECONDS);
  }

  /**
   * Everything alerting keeps in Redis for the tenant: its rule state and, under `hr:alert:<tenant>:`,
   * the anomaly burst memory (anomaly-page-store.ts). Tenant ids are [a-z0-9-] (no ':' nor glob
   * characters), so the SCAN matches this tenant only; never KEYS.
   */
  async eraseTenant(tenant: string): Promise<number> {
    let deleted = await this.redis.unlink(RedisRuleStateStore.key(tenant));
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', `hr:alert:${tenant}:*`, 'COUNT', 500);
      if (keys.length) deleted += await this.redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
    return deleted;
  }
}

/** Same semantics without Redis, for unit specs. */
export class InMemoryRuleStateStore implements RuleStateStore {
  readonly states = new Map<string, string>();
  async load(tenant: string): Promise<RuleEvaluatorState | undefined> {
    const raw = this.states.get(tenant);
    return raw ? (JSON.parse(raw) as RuleEvaluatorState) : undefined;
  }
  async save(tenant: string, state: RuleEvaluatorState): Promise<void> {
    this.states.set(tenant, JSON.stringify(state));
  }
  async eraseTenant(tenant: string): Promise<number> {
    return this.states.delete(tenant) ? 1 : 0;
  }
}
