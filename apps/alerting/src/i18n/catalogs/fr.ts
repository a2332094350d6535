import type { Catalog } from './en';

// French typography: a no-break space (U+00A0) before « : » and « ; ».
export const fr: Catalog = {
  'status.firing': 'ALERTE',
  'status.resolved': 'RÉSOLU',
  'status.acknowledged': 'PRIS EN CHARGE',
  'status.escalated': 'ESCALADÉ',
  'title.firing': '[{status}] {name} — {count, plural, one {# alerte active} other {# alertes actives}}',
  'title.resolved': '[{status}] {name} — {count, plural, one {# alerte résolue} other {# alertes résolues}}',
  'alert.value': 'Valeur\u00a0: {value}',
  'alert.valueThreshold': 'Valeur\u00a0: {value} (seuil {threshold})',
  'alert.since': 'Depuis le {since}',
  'alert.firingFor': 'Active depuis {duration}',
  'alert.resolvedAfter': 'Résolue après {duration}',
  'alert.more': '… et {count, plural, one {# autre alerte} other {# autres alertes}}',
  'action.acknowledge': 'Prendre en charge',
  'action.runbook': 'Procédure',
  'ack.by': 'Pris en charge par {user} ({at})',
  'escalation.step': 'Non pris en charge à temps\u00a0: escalade au niveau {step}',
  tenant: 'Locataire\u00a0: {tenant}',
  'anomaly.frame': 'Anomalie\u00a0: {explanation} (score {score})',
  'anomaly.seasonal.point':
    '{metric} à {value} est {sigma} σ {direction, select, above {au-dessus} other {en dessous}} de la valeur attendue {expected} pour {when}',
  'anomaly.seasonal.shift':
    '{metric} à {value} reste {direction, select, above {au-dessus} other {en dessous}} de son niveau attendu depuis plusieurs points (décalage {sigma} σ\u00a0; attendu {expected} pour {when})',
  'anomaly.seasonal.range':
    '{direction, select, above {au-dessus de la plus haute} other {en dessous de la plus basse}} valeur récente ({edge}) de {percent} de l’écart habituel',
  'anomaly.seasonal.entropy': 'la répartition des {window} dernières valeurs ne correspond à aucun des {patterns} profils récents',
  'anomaly.seasonal.warmup': 'apprentissage de la référence de {metric} ({seen}/{needed} points)',
  'anomaly.seasonal.missing': '{metric}\u00a0: valeur manquante ou non numérique',
};
