/**
 * English: the reference catalog. Every other language has exactly these keys with the same
 * arguments (`catalogs.spec.ts` fails otherwise). Arguments are pre-formatted strings (numbers,
 * dates and durations already localised by the renderer) except `count`, a number for plurals.
 * Apostrophes are typographic (’): a straight ' quotes text in ICU MessageFormat.
 */
export const en = {
  'status.firing': 'FIRING',
  'status.resolved': 'RESOLVED',
  'status.acknowledged': 'ACKNOWLEDGED',
  'status.escalated': 'ESCALATED',
  'title.firing': '[{status}] {name} — {count, plural, one {# alert firing} other {# alerts firing}}',
  'title.resolved': '[{status}] {name} — {count, plural, one {# alert resolved} other {# alerts resolved}}',
  'alert.value': 'Value: {value}',
  'alert.valueThreshold': 'Value: {value} (threshold {threshold})',
  'alert.since': 'Since {since}',
  'alert.firingFor': 'Firing for {duration}',
  'alert.resolvedAfter': 'Resolved after {duration}',
  'alert.more': '… and {count, plural, one {# more alert} other {# more alerts}}',
  'action.acknowledge': 'Acknowledge',
  'action.runbook': 'Runbook',
  'ack.by': 'Acknowledged by {user} ({at})',
  'escalation.step': 'Not acknowledged in time: escalated to step {step}',
  tenant: 'Tenant: {tenant}',
  'anomaly.frame': 'Anomaly: {explanation} (score {score})',
  'anomaly.seasonal.point': '{metric} at {value} is {sigma} σ {direction, select, above {above} other {below}} the expected {expected} for {when}',
  'anomaly.seasonal.shift':
    '{metric} at {value} has stayed {direction, select, above {above} other {below}} its expected level for several points (shift {sigma} σ; expected {expected} for {when})',
  'anomaly.seasonal.range': '{direction, select, above {above the highest} other {below the lowest}} value seen recently ({edge}) by {percent} of the usual range',
  'anomaly.seasonal.entropy': 'the mix of the last {window} values matches none of the {patterns} recent patterns',
  'anomaly.seasonal.warmup': 'learning the baseline of {metric} ({seen}/{needed} points)',
  'anomaly.seasonal.missing': '{metric}: value missing or not a number',
} as const satisfies Record<string, string>;

export type MessageKey = keyof typeof en;
export type Catalog = Record<MessageKey, string>;
