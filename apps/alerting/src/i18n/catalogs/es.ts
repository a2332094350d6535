import type { Catalog } from './en';

export const es: Catalog = {
  'status.firing': 'ACTIVA',
  'status.resolved': 'RESUELTA',
  'status.acknowledged': 'CONFIRMADA',
  'status.escalated': 'ESCALADA',
  'title.firing': '[{status}] {name} — {count, plural, one {# alerta activa} other {# alertas activas}}',
  'title.resolved': '[{status}] {name} — {count, plural, one {# alerta resuelta} other {# alertas resueltas}}',
  'alert.value': 'Valor: {value}',
  'alert.valueThreshold': 'Valor: {value} (umbral {threshold})',
  'alert.since': 'Desde el {since}',
  'alert.firingFor': 'Activa desde hace {duration}',
  'alert.resolvedAfter': 'Resuelta tras {duration}',
  'alert.more': '… y {count, plural, one {# alerta más} other {# alertas más}}',
  'action.acknowledge': 'Confirmar',
  'action.runbook': 'Procedimiento',
  'ack.by': 'Confirmada por {user} ({at})',
  'escalation.step': 'Sin confirmar a tiempo: escalada al nivel {step}',
  tenant: 'Inquilino: {tenant}',
  'anomaly.frame': 'Anomalía: {explanation} (puntuación {score})',
  'anomaly.seasonal.point':
    '{metric} con {value} está {sigma} σ {direction, select, above {por encima} other {por debajo}} del valor esperado {expected} para {when}',
  'anomaly.seasonal.shift':
    '{metric} con {value} lleva varios puntos {direction, select, above {por encima} other {por debajo}} de su nivel esperado (desviación {sigma} σ; esperado {expected} para {when})',
  'anomaly.seasonal.range':
    '{direction, select, above {por encima del valor más alto} other {por debajo del valor más bajo}} visto recientemente ({edge}) en un {percent} del rango habitual',
  'anomaly.seasonal.entropy': 'la distribución de los últimos {window} valores no coincide con ninguno de los {patterns} patrones recientes',
  'anomaly.seasonal.warmup': 'aprendiendo la referencia de {metric} ({seen}/{needed} puntos)',
  'anomaly.seasonal.missing': '{metric}: valor ausente o no numérico',
};
