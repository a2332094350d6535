import type { Catalog } from './en';

export const it: Catalog = {
  'status.firing': 'ATTIVO',
  'status.resolved': 'RISOLTO',
  'status.acknowledged': 'PRESO IN CARICO',
  'status.escalated': 'ESCALATO',
  'title.firing': '[{status}] {name} — {count, plural, one {# allarme attivo} other {# allarmi attivi}}',
  'title.resolved': '[{status}] {name} — {count, plural, one {# allarme risolto} other {# allarmi risolti}}',
  'alert.value': 'Valore: {value}',
  'alert.valueThreshold': 'Valore: {value} (soglia {threshold})',
  'alert.since': 'Dal {since}',
  'alert.firingFor': 'Attivo da {duration}',
  'alert.resolvedAfter': 'Risolto dopo {duration}',
  'alert.more': '… e {count, plural, one {# altro allarme} other {altri # allarmi}}',
  'action.acknowledge': 'Prendi in carico',
  'action.runbook': 'Procedura',
  'ack.by': 'Preso in carico da {user} ({at})',
  'escalation.step': 'Non preso in carico in tempo: escalato al livello {step}',
  tenant: 'Tenant: {tenant}',
  'anomaly.frame': 'Anomalia: {explanation} (punteggio {score})',
  'anomaly.seasonal.point': '{metric} a {value} è {sigma} σ {direction, select, above {sopra} other {sotto}} il valore atteso {expected} per {when}',
  'anomaly.seasonal.shift':
    '{metric} a {value} resta {direction, select, above {sopra} other {sotto}} il livello atteso da diversi punti (scostamento {sigma} σ; atteso {expected} per {when})',
  'anomaly.seasonal.range':
    '{direction, select, above {sopra il valore più alto} other {sotto il valore più basso}} visto di recente ({edge}) del {percent} dell’intervallo abituale',
  'anomaly.seasonal.entropy': 'la distribuzione degli ultimi {window} valori non corrisponde a nessuno dei {patterns} schemi recenti',
  'anomaly.seasonal.warmup': 'apprendimento della linea di base di {metric} ({seen}/{needed} punti)',
  'anomaly.seasonal.missing': '{metric}: valore mancante o non numerico',
};
