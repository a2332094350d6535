import type { Labels, ThresholdRule } from '@headroom/contracts';

type Severity = ThresholdRule['severity'];

interface NotificationBase {
  tenant: string;
  /** The tenant's locale from the control topic (BCP 47, e.g. `fr` or `fr-FR`). */
  locale: string;
  fingerprint: string;
  series: { name: string; labels: Labels };
  value: number;
  /** Names the page in the notification log: the episode's start, or the anomalous signal's timestamp. */
  startsAt: number;
  /** A resolution's end, or when an anomaly page expires. */
  endsAt?: number;
  /** The tenant's own destinations, from its alert config: a channel never routes elsewhere. */
  route: { slackChannel?: string };
}

/** One threshold-rule transition to tell people about, with everything a channel needs to word and route it. */
export interface ThresholdNotification extends NotificationBase {
  state: 'firing' | 'resolved';
  rule: ThresholdRule;
}

/** One anomaly signal worth a page (no resolve message: it expires by itself, Alertmanager-style). */
export interface AnomalyNotification extends NotificationBase {
  state: 'anomaly';
  detector: string;
  /** 0 = normal, 1 = certainly anomalous. */
  score: number;
  /** The detector's own words, e.g. "p95 value 480 ms is 31.2σ above the expected 120 ms for …". */
  explanation: string;
  severity: Severity;
}

export type AlertNotification = ThresholdNotification | AnomalyNotification;

/**
 * - `sent`: delivered; `skipped`: this tenant has no destination on this channel;
 * - `rejected`: the destination refused it for a reason retrying will not fix (unknown channel, bad
 *   token) — logged and counted, not retried, so one tenant's misconfiguration cannot stall others.
 * Transient failures (network, 5xx, rate limits) throw instead, and the record is retried.
 */
export type DeliveryOutcome = { outcome: 'sent' } | { outcome: 'skipped' } | { outcome: 'rejected'; reason: string };

export interface NotificationChannel {
  readonly type: string;
  send(notification: AlertNotification): Promise<DeliveryOutcome>;
}

export interface ConfigProblem {
  /** Dotted path into the channel's config, e.g. `slack.apiUrl`. */
  path: string;
  message: string;
}

/** The Collector's factory shape: a type name, a default config, `validate()` listing every problem, and `create()`. */
export interface NotificationChannelFactory<C> {
  readonly type: string;
  defaultConfig(): C;
  validate(config: C): ConfigProblem[];
  create(config: C): NotificationChannel;
}

export class ChannelConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(`invalid notification channel configuration:\n${problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`);
    this.name = 'ChannelConfigError';
  }
}

/**
 * Known channel types. Adding a channel is adding a folder with its factory and registering it here;
 * `build` validates every configured channel and reports all problems at once.
 */
export class ChannelRegistry {
  private readonly factories = new Map<string, NotificationChannelFactory<unknown>>();

  register<C>(factory: NotificationChannelFactory<C>): this {
    this.factories.set(factory.type, factory as unknown as NotificationChannelFactory<unknown>);
    return this;
  }

  types(): string[] {
    return [...this.factories.keys()];
  }

  /** Builds the channels named in `configs` (partial configs are merged over each type's defaults). */
  build(configs: Record<string, object>): NotificationChannel[] {
    const problems: ConfigProblem[] = [];
    const built: { factory: NotificationChannelFactory<unknown>; config: unknown }[] = [];
    for (const [type, partial] of Object.entries(configs)) {
      const factory = this.factories.get(type);
      if (!factory) {
        problems.push({ path: type, message: `unknown channel type (known: ${this.types().join(', ')})` });
        continue;
      }
      const config = { ...(factory.defaultConfig() as object), ...partial };
      problems.push(...factory.validate(config).map((p) => ({ path: `${type}.${p.path}`, message: p.message })));
      built.push({ factory, config });
    }
    if (problems.length) throw new ChannelConfigError(problems);
    return built.map(({ factory, config }) => factory.create(config));
  }
}
