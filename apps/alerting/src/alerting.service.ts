import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { AggregateBatch, AggregateWindow, AlertConfigRecord, AlertEvent, AlertEventMessage, AlertRule } from '@headroom/contracts';
import type { OutgoingRecord } from '@headroom/kafka';
import { compileRule, indexSnapshot, RuleEvaluator, type CompiledRule, type Transition } from '@headroom/rules';
import { LOGGER, METRICS, type Logger } from '@headroom/runtime';
import { TenantDirectory } from '@headroom/tenancy';
import { RULE_STATE_STORE, type RuleStateStore } from './rules/rule-state-store';

export const ALERT_SINK = Symbol('ALERT_SINK');
export const EVALUATION_OPTIONS = Symbol('EVALUATION_OPTIONS');

/** Where alert events go: headroom.alerts.v1 in production, a list in unit specs. */
export interface AlertSink {
  publish(records: OutgoingRecord<typeof AlertEventMessage>[]): Promise<void>;
}

export interface EvaluationOptions {
  /**
   * An instant (window start) is evaluated once a later instant of the tenant arrives, or this long
   * after its last window arrived: analytics publishes a tenant's windows of one instant together,
   * possibly over several records (shards, large tenants), and a partial instant must not resolve
   * the alerts of series that simply came in the next record.
   */
  settleMs: number;
}

/** Legacy threshold rules are the expression `stat(metric) op threshold`. */
export function rulesOf(config: AlertConfigRecord): AlertRule[] {
  const legacy: AlertRule[] = config.rules.map((r) => ({ id: r.id, expr: `${r.stat}(${r.metric}) ${r.op} ${r.threshold}`, severity: r.severity }) as AlertRule);
  return [...legacy, ...(config.alertRules ?? [])];
}

interface TenantRules {
  config: AlertConfigRecord;
  compiled: CompiledRule[];
  evaluator: RuleEvaluator;
  /** Windows of instants not evaluated yet, by window start. */
  buffered: Map<number, AggregateWindow[]>;
  timer?: NodeJS.Timeout;
  /** Serialises everything done for the tenant (batches and settle timers). */
  chain: Promise<void>;
}

/**
 * Aggregate windows in, alert transitions out on headroom.alerts.v1 — and nothing else: evaluation
 * never talks to a provider (the dispatcher does, from the alerts topic), so one tenant's dead
 * Slack cannot slow anyone's evaluation. Each window is judged by its own tenant's rules only (the
 * tenant comes from the record's authenticated header). The rule lifecycle (pending, `for`,
 * keep_firing_for, hysteresis, absence) is @headroom/rules'; its state is kept in Redis after every
 * instant that changed it, so a restart resumes each alert where it was.
 */
@Injectable()
export class AlertingService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly tenants = new Map<string, TenantRules>();
  /** Erasures wait for the boot to finish (Redis connects in onModuleInit; the control topic may be read before). */
  private erasing: Promise<void>;
  private markStarted!: () => void;
  private readonly transitions: Counter<'state'>;
  private readonly ruleErrors: Counter<'reason'>;

  constructor(
    @Inject(TenantDirectory) private readonly directory: TenantDirectory,
    @Inject(ALERT_SINK) private readonly sink: AlertSink,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(METRICS) metrics: Registry,
    @Inject(RULE_STATE_STORE) private readonly store: RuleStateStore,
    @Inject(EVALUATION_OPTIONS) private readonly options: EvaluationOptions,
  ) {
    this.erasing = new Promise<void>((resolve) => (this.markStarted = resolve));
    const tenants = this.tenants;
    new Gauge({
      name: 'headroom_alerts_firing',
      help: 'Alerts currently firing in this instance.',
      registers: [metrics],
      collect() {
        let n = 0;
        for (const t of tenants.values()) for (const c of t.compiled) for (const a of t.evaluator.activeAlerts(c.rule.id).values()) if (a.status === 'firing') n++;
        this.set(n);
      },
    });
    this.transitions = new Counter({ name: 'headroom_alerts_transitions_total', help: 'Alert transitions published, by state.', labelNames: ['state'], registers: [metrics] });
    this.ruleErrors = new Counter({ name: 'headroom_alerts_rule_errors_total', help: 'Tenant rules that could not be compiled.', labelNames: ['reason'], registers: [metrics] });
    directory.onRecord((r) => {
      if (r.kind !== 'tenant_erased') return;
      const t = this.tenants.get(r.tenant);
      if (t?.timer) clearTimeout(t.timer);
      this.tenants.delete(r.tenant);
      this.erasing = this.erasing
        .then(() => this.store.eraseTenant(r.tenant))
        .then(() => undefined)
        .catch((err) => this.logger.error({ tenant: r.tenant, err: String(err) }, 'could not delete erased tenant rule state'));
    });
  }

  onApplicationBootstrap(): void {
    this.markStarted();
  }

  onApplicationShutdown(): void {
    for (const t of this.tenants.values()) if (t.timer) clearTimeout(t.timer);
  }

  async erasuresSettled(): Promise<void> {
    await this.erasing;
  }

  /** After a rebalance: partitions (so tenants) may have moved; Redis is the truth again. */
  forgetCachedStates(): void {
    for (const t of this.tenants.values()) if (t.timer) clearTimeout(t.timer);
    this.tenants.clear();
  }

  async handleBatch(tenant: string, batch: AggregateBatch, traceparent?: string): Promise<void> {
    const rules = await this.rulesFor(tenant);
    if (!rules) return;
    const work = rules.chain.then(async () => {
      for (const w of batch.windows) {
        const list = rules.buffered.get(w.windowStart);
        if (list) list.push(w);
        else rules.buffered.set(w.windowStart, [w]);
      }
      // Every instant older than the newest one is complete: evaluate those now, in order.
      const newest = Math.max(...rules.buffered.keys());
      await this.evaluateUpTo(tenant, rules, newest - 1, traceparent);
      this.scheduleSettle(tenant, rules);
    });
    rules.chain = work.catch(() => undefined);
    await work;
  }

  /** Evaluates whatever is buffered for every tenant now (specs and shutdown). */
  async settleAll(): Promise<void> {
    for (const [tenant, rules] of this.tenants) {
      if (rules.timer) clearTimeout(rules.timer);
      const work = rules.chain.then(() => this.evaluateUpTo(tenant, rules, Number.MAX_SAFE_INTEGER));
      rules.chain = work.catch(() => undefined);
      await work;
    }
  }

  private scheduleSettle(tenant: string, rules: TenantRules): void {
    if (rules.timer) clearTimeout(rules.timer);
    if (rules.buffered.size === 0) return;
    rules.timer = setTimeout(() => {
      rules.timer = undefined;
      rules.chain = rules.chain
        .then(() => this.evaluateUpTo(tenant, rules, Number.MAX_SAFE_INTEGER))
        .catch((err) => this.logger.warn({ tenant, err: String(err) }, 'settled evaluation failed; it is retried with the next window'));
    }, this.options.settleMs);
    rules.timer.unref();
  }

  private async evaluateUpTo(tenant: string, rules: TenantRules, upTo: number, traceparent?: string): Promise<void> {
    const instants = [...rules.buffered.keys()].filter((t) => t <= upTo).sort((a, b) => a - b);
    if (instants.length === 0) return;
    const events: OutgoingRecord<typeof AlertEventMessage>[] = [];
    for (const at of instants) {
      const windows = rules.buffered.get(at)!;
      const snapshot = indexSnapshot(at, windows);
      const metrics = new Set(windows.map((w) => w.series.name));
      for (const compiled of rules.compiled) {
        if (!rules.evaluator.shouldEvaluate(compiled, metrics)) continue;
        for (const t of rules.evaluator.evaluate(compiled, snapshot)) events.push({ tenant, value: eventOf(compiled, t), traceparent });
      }
    }
    // Published before the state is saved and the instants dropped: a failure here retries the
    // instants (the dispatcher dedupes a transition published twice).
    if (events.length > 0) {
      await this.sink.publish(events);
      for (const e of events) this.transitions.inc({ state: e.value!.state });
    }
    if (!this.directory.isErased(tenant)) await this.store.save(tenant, rules.evaluator.exportState());
    for (const at of instants) rules.buffered.delete(at);
  }

  /**
   * An erased data subject: every alert whose labels carry its pseudonym leaves the rule state (in
   * memory and in Redis) without resolving — a later "resolved" would publish its labels again and
   * re-create what the erasure deleted. Runs on the tenant's evaluation chain, so no instant being
   * evaluated puts them back.
   */
  async forgetSubject(tenant: string, pseudonym: string): Promise<number> {
    const matches = (labels: Record<string, string>) => Object.values(labels).some((v) => v.includes(pseudonym));
    const rules = this.tenants.get(tenant);
    if (!rules) {
      const stored = await this.store.load(tenant);
      if (!stored) return 0;
      const evaluator = new RuleEvaluator(stored);
      const dropped = evaluator.forgetAlerts(matches);
      if (dropped > 0) await this.store.save(tenant, evaluator.exportState());
      return dropped;
    }
    const work = rules.chain.then(async () => {
      const dropped = rules.evaluator.forgetAlerts(matches);
      if (dropped > 0 && !this.directory.isErased(tenant)) await this.store.save(tenant, rules.evaluator.exportState());
      return dropped;
    });
    rules.chain = work.then(
      () => undefined,
      () => undefined,
    );
    return work;
  }

  private async rulesFor(tenant: string): Promise<TenantRules | undefined> {
    const config = this.directory.alertConfig(tenant);
    if (!config || this.directory.isErased(tenant)) return undefined;
    const current = this.tenants.get(tenant);
    if (current && current.config === config) return current;
    const compiled: CompiledRule[] = [];
    for (const rule of rulesOf(config)) {
      try {
        compiled.push(compileRule(rule));
      } catch (err) {
        // Control validates rules; one that still does not compile (older record) is skipped, loudly.
        this.ruleErrors.inc({ reason: err instanceof Error ? err.name : 'unknown' });
        this.logger.warn({ tenant, rule: rule.id, err: String(err) }, 'alert rule does not compile; skipped');
      }
    }
    if (compiled.length === 0 && !current) return undefined;
    const evaluator = current?.evaluator ?? new RuleEvaluator(await this.store.load(tenant));
    // Rules removed from the config: their alerts are forgotten (their groups expire downstream).
    const ids = new Set(compiled.map((c) => c.rule.id));
    for (const c of current?.compiled ?? []) if (!ids.has(c.rule.id)) evaluator.forgetRule(c.rule.id);
    const rules: TenantRules = { config, compiled, evaluator, buffered: current?.buffered ?? new Map(), chain: current?.chain ?? Promise.resolve(), timer: current?.timer };
    this.tenants.set(tenant, rules);
    return rules;
  }
}

function eventOf(compiled: CompiledRule, t: Transition): AlertEvent {
  const rule = compiled.rule;
  const labels = { ...t.labels, ...(rule.labels ?? {}), alertname: rule.id, severity: rule.severity };
  const annotations: Record<string, string> = { ...(rule.annotations ?? {}) };
  if (!annotations['summary']) annotations['summary'] = `${rule.expr}${t.value !== null ? ` (value ${round(t.value)})` : ''}`.slice(0, 2000);
  if (rule.runbookUrl) annotations['runbook_url'] = rule.runbookUrl;
  return {
    fingerprint: t.fingerprint,
    ruleId: rule.id,
    state: t.kind,
    labels,
    annotations,
    value: t.value ?? 0,
    ...(compiled.comparison ? { threshold: compiled.comparison.threshold } : {}),
    startsAt: t.activeAt,
    ...(t.kind === 'resolved' && t.resolvedAt !== undefined ? { endsAt: t.resolvedAt } : {}),
    observedAt: Date.now(),
  };
}

const round = (v: number) => Math.round(v * 100) / 100;
