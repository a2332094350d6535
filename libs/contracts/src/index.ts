export * from './topics';
export * from './topic-access';
export * from './message';
export * from './common.schema';
export * from './point-validation';
export * from './tenant-limits.schema';
export * from './telemetry-batch.schema';
export * from './aggregate.schema';
export * from './signal.schema';
export * from './alert-event.schema';
export * from './alert-rule.schema';
export {
  AlertRouteSchema,
  AlertReceiverSchema,
  AlertRoutingSchema,
  EscalationPolicySchema,
  InhibitRuleSchema,
  ROUTE_DEFAULTS,
  MAX_ROUTE_DEPTH,
  MAX_ROUTE_NODES,
  RECEIVER_SECRET_FIELDS,
  anchoredRegExp,
  parseMatcher,
  parseMatchers,
} from './alert-routing.schema';
export type { AlertReceiver, AlertRouteConfig, AlertRouting, AlertRoutingInput, EscalationPolicy as EscalationPolicyConfig, InhibitRuleConfig, MatchType, ParsedMatcher, MatcherParseResult } from './alert-routing.schema';
export * from './control-record.schema';
export * from './audit-event.schema';
export * from './dlq-record.schema';
export * from './erasure.schema';
export * from './registry';
export * from './series';
export * from './window-sketch';
export * from './remote-write.proto';
