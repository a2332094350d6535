import type { Catalog } from './en';

export const de: Catalog = {
  'status.firing': 'AUSGELÖST',
  'status.resolved': 'BEHOBEN',
  'status.acknowledged': 'BESTÄTIGT',
  'status.escalated': 'ESKALIERT',
  'title.firing': '[{status}] {name} — {count, plural, one {# aktiver Alarm} other {# aktive Alarme}}',
  'title.resolved': '[{status}] {name} — {count, plural, one {# Alarm behoben} other {# Alarme behoben}}',
  'alert.value': 'Wert: {value}',
  'alert.valueThreshold': 'Wert: {value} (Schwelle {threshold})',
  'alert.since': 'Seit {since}',
  'alert.firingFor': 'Aktiv seit {duration}',
  'alert.resolvedAfter': 'Behoben nach {duration}',
  'alert.more': '… und {count, plural, one {# weiterer Alarm} other {# weitere Alarme}}',
  'action.acknowledge': 'Bestätigen',
  'action.runbook': 'Runbook',
  'ack.by': 'Bestätigt von {user} ({at})',
  'escalation.step': 'Nicht rechtzeitig bestätigt: eskaliert an Stufe {step}',
  tenant: 'Mandant: {tenant}',
  'anomaly.frame': 'Anomalie: {explanation} (Score {score})',
  'anomaly.seasonal.point': '{metric} liegt mit {value} {sigma} σ {direction, select, above {über} other {unter}} dem erwarteten Wert {expected} für {when}',
  'anomaly.seasonal.shift':
    '{metric} liegt mit {value} seit mehreren Punkten {direction, select, above {über} other {unter}} dem erwarteten Niveau (Verschiebung {sigma} σ; erwartet {expected} für {when})',
  'anomaly.seasonal.range':
    '{direction, select, above {über dem höchsten} other {unter dem niedrigsten}} kürzlich gesehenen Wert ({edge}) um {percent} der üblichen Spanne',
  'anomaly.seasonal.entropy': 'die Verteilung der letzten {window} Werte passt zu keinem der {patterns} jüngsten Muster',
  'anomaly.seasonal.warmup': 'Basislinie von {metric} wird gelernt ({seen}/{needed} Punkte)',
  'anomaly.seasonal.missing': '{metric}: Wert fehlt oder ist keine Zahl',
};
