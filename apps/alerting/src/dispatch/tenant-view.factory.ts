import { parseDuration, type AlertConfigRecord, type AlertRouting, type Labels, type TenantRecord } from '@headroom/contracts';
import { compileInhibitRules, compileRoutes, isInhibited, isSilenced, type InhibitRule, type RouteTree } from '@headroom/routing';
import type { TenantKeyring } from '@headroom/crypto';
import type { Logger } from '@headroom/runtime';
import { openIntegrationSecrets, ReceiverSecretError } from '@headroom/tenancy';
import type { ChannelRegistry } from '../channels/registry';
import type { EscalationPolicy } from './group-plan';
import type { Integration, TenantView } from './tenant-view';

/** Deployment-level fallbacks for tenants still on the legacy `slackChannel` config. */
export interface LegacySlack {
  botToken: string;
}

/**
 * A tenant without `routing` keeps the behaviour it had before routing existed: every alert on its
 * own (group_by ['...']), told at once (group_wait 0s) and its resolution too (group_interval 1s),
 * to its `slackChannel` with the deployment's bot token.
 */
function legacyRouting(config: AlertConfigRecord, legacy: LegacySlack | undefined): AlertRouting {
  // Legacy names were free-form (`oncall`, `#oncall`, `@user`); Slack channel names take a `#`.
  const channel = config.slackChannel && !/^(#|[CGD][A-Z0-9]{8,}$)/.test(config.slackChannel) ? `#${config.slackChannel.replace(/^@/, '')}` : config.slackChannel;
  const slack = channel && legacy ? [{ channel, bot_token: legacy.botToken }] : [];
  return {
    route: { receiver: 'default', group_by: ['...'], group_wait: '0s', group_interval: '1s', repeat_interval: '4h' },
    receivers: [{ name: 'default', slack_configs: slack }],
    inhibit_rules: [],
    escalations: [],
  } as AlertRouting;
}

const CHANNEL_KEYS = ['slack', 'pagerduty', 'email', 'webhook', 'sms'] as const;

/**
 * Compiles a tenant's alert config into the dispatcher's view. Each receiver integration has its sealed
 * secrets opened with the tenant's data key (libs/tenancy receiver-secrets), then is checked against its
 * channel's target schema; one that does not open or is invalid is left out and logged (by path, never
 * by value: targets hold secrets), so one bad integration does not silence the tenant's others.
 */
export function buildTenantView(
  tenant: TenantRecord | undefined,
  config: AlertConfigRecord,
  channels: ChannelRegistry,
  logger: Logger,
  keyring: Pick<TenantKeyring, 'decrypt'>,
  legacy?: LegacySlack,
): TenantView {
  const routing = config.routing ?? legacyRouting(config, legacy);
  const tree: RouteTree = compileRoutes(routing.route);
  const inhibit: InhibitRule[] = compileInhibitRules(routing.inhibit_rules ?? []);
  const escalations = new Map<string, EscalationPolicy>(
    (routing.escalations ?? []).map((e) => [e.name, { name: e.name, repeat: e.repeat ?? 0, steps: e.steps.map((s) => ({ receivers: s.receivers, afterMs: parseDuration(s.after) })) }]),
  );
  const integrations = new Map<string, Integration[]>();
  const failovers = new Map<string, string>();
  routing.receivers.forEach((r, receiverIndex) => {
    const list: Integration[] = [];
    for (const key of CHANNEL_KEYS) {
      const configs = (r as Record<string, unknown>)[`${key}_configs`] as unknown[] | undefined;
      const type = channels.get(key);
      (configs ?? []).forEach((raw, index) => {
        if (!type) {
          logger.warn({ tenant: config.tenant, receiver: r.name, path: `${key}_configs.${index}` }, 'no such channel in this deployment; integration skipped');
          return;
        }
        let opened: unknown = raw;
        try {
          opened = raw && typeof raw === 'object' ? openIntegrationSecrets(raw as Record<string, unknown>, config.tenant, { receiver: r.name, receiverIndex, channel: key, index }, keyring) : raw;
        } catch (err) {
          if (!(err instanceof ReceiverSecretError)) throw err;
          logger.warn({ tenant: config.tenant, receiver: r.name, path: err.path, code: err.code }, 'receiver secret cannot be opened; integration skipped');
          return;
        }
        const parsed = type.targetSchema.safeParse(opened);
        if (!parsed.success) {
          logger.warn(
            { tenant: config.tenant, receiver: r.name, problems: parsed.error.issues.map((i) => `${key}_configs.${index}.${i.path.join('.')}: ${i.message}`) },
            'invalid receiver integration skipped',
          );
          return;
        }
        list.push({ channel: key, index, target: parsed.data });
      });
    }
    integrations.set(r.name, list);
    if (r.failover) failovers.set(r.name, r.failover);
  });
  return {
    tenant: config.tenant,
    locale: tenant?.locale ?? 'en',
    templates: config.templates,
    route(labels: Labels) {
      return tree.match(labels).map((m) => ({
        routeId: m.routeId,
        receiver: m.receiver,
        groupKey: m.groupKeyFor(labels),
        groupLabels: m.groupLabelsFor(labels),
        timers: { groupWaitMs: m.groupWait, groupIntervalMs: m.groupInterval, repeatIntervalMs: m.repeatInterval },
        escalation: m.escalation ? escalations.get(m.escalation) : undefined,
        locale: m.locale,
      }));
    },
    isInhibited: (labels, firing) => isInhibited(labels, firing, inhibit),
    silencedBy: (labels, silences, now) => [...isSilenced(labels, silences, now).silenceIds],
    integrations: (receiver) => integrations.get(receiver),
    failover: (receiver) => failovers.get(receiver),
  };
}
