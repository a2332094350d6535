import type { Labels } from '@headroom/contracts';
import type { EscalationPolicy, GroupTimers } from './group-plan';

/** Where one alert goes under one matching route. */
export interface RoutedGroup {
  routeId: string;
  receiver: string;
  /** Stable per tenant: route + grouped label values. */
  groupKey: string;
  groupLabels: Labels;
  timers: GroupTimers;
  escalation?: EscalationPolicy;
  locale?: string;
}

/** One delivery integration of a receiver: e.g. the second entry of its `slack_configs`. */
export interface Integration {
  channel: string;
  index: number;
  target: unknown;
}

export interface Silence {
  id: string;
  matchers: string[];
  startsAt: number;
  endsAt: number;
  endOnResolve: boolean;
  createdBy: string;
  comment: string;
}

/**
 * Everything the dispatcher needs to know about one tenant's alerting configuration, compiled once
 * per config version: routing, inhibition, receivers and their integrations. Built from the
 * tenant's `alert_config` record on the control topic (tenant-view.factory.ts).
 */
export interface TenantView {
  tenant: string;
  locale: string;
  templates?: Record<string, string>;
  route(labels: Labels): RoutedGroup[];
  /** Whether `labels` is inhibited by one of the tenant's firing alerts. */
  isInhibited(labels: Labels, firing: readonly Labels[]): boolean;
  /** Ids of the silences among `silences` that mute `labels` at `now`. */
  silencedBy(labels: Labels, silences: readonly Silence[], now: number): string[];
  integrations(receiver: string): Integration[] | undefined;
  failover(receiver: string): string | undefined;
  /** Per-tenant and per-receiver notification rates (per minute); undefined = the deployment's default. */
  rateLimitPerMinute?: number;
}
