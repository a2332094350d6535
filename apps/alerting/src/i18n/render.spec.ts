import type { AlertInstance, GroupNotification } from '../channels/channel';
import { resolveLocale } from './locale';
import { validateTemplates } from './messages';
import { renderMoreAlerts, renderNotification } from './render';

const STARTS = Date.UTC(2025, 2, 5, 14, 3);
const NOW = STARTS + 65 * 60_000;

function alert(over: Partial<AlertInstance> = {}): AlertInstance {
  return { fingerprint: 'f1', status: 'firing', labels: { alertname: 'HighLatency', endpoint: '/search' }, annotations: { summary: 'p95 latency above 250 ms' }, value: 1234.5, startsAt: STARTS, ...over };
}

function group(over: Partial<GroupNotification> = {}): GroupNotification {
  return {
    id: 'n1',
    tenant: 'label-a',
    receiver: 'oncall',
    groupKey: 'g1',
    status: 'firing',
    reason: 'firing',
    groupLabels: { alertname: 'HighLatency', endpoint: '/search' },
    commonLabels: { alertname: 'HighLatency' },
    commonAnnotations: {},
    alerts: [alert(), alert({ fingerprint: 'f2', value: 980 })],
    locale: 'en',
    createdAt: NOW,
    ...over,
  };
}

const unit = (locale: string, u: string, v: number) => new Intl.NumberFormat(locale, { style: 'unit', unit: u, unitDisplay: 'short' }).format(v);
const number = (locale: string, v: number) => new Intl.NumberFormat(locale, { maximumFractionDigits: 2 }).format(v);

describe('renderNotification in five languages', () => {
  const cases = [
    { locale: 'en', status: 'FIRING', title: '2 alerts firing', value: 'Value:', since: 'Since', ack: 'Acknowledge', tenant: 'Tenant:' },
    { locale: 'fr', status: 'ALERTE', title: '2 alertes actives', value: 'Valeur\u00a0:', since: 'Depuis le', ack: 'Prendre en charge', tenant: 'Locataire\u00a0:' },
    { locale: 'de', status: 'AUSGELÖST', title: '2 aktive Alarme', value: 'Wert:', since: 'Seit', ack: 'Bestätigen', tenant: 'Mandant:' },
    { locale: 'es', status: 'ACTIVA', title: '2 alertas activas', value: 'Valor:', since: 'Desde el', ack: 'Confirmar', tenant: 'Inquilino:' },
    { locale: 'it', status: 'ATTIVO', title: '2 allarmi attivi', value: 'Valore:', since: 'Dal', ack: 'Prendi in carico', tenant: 'Tenant:' },
  ];

  it.each(cases)('$locale: words, numbers, dates and durations of the locale', (c) => {
    const r = renderNotification(group({ locale: c.locale }));
    expect(r.language).toBe(c.locale);
    expect(r.statusLabel).toBe(c.status);
    expect(r.title).toBe(`[${c.status}] HighLatency (endpoint=/search) — ${c.title}`);
    expect(r.actions.acknowledge).toBe(c.ack);
    expect(r.tenantLine).toBe(`${c.tenant} label-a`);
    const [value, since, duration] = r.alerts[0]!.details;
    expect(value).toBe(`${c.value} ${number(c.locale, 1234.5)}`);
    const month = new Intl.DateTimeFormat(c.locale, { month: 'short', timeZone: 'UTC' }).format(STARTS);
    expect(since).toMatch(new RegExp(`^${c.since} .*${month}.*2025.*UTC$`));
    expect(duration).toContain(unit(c.locale, 'hour', 1));
    expect(duration).toContain(unit(c.locale, 'minute', 5));
  });

  it('French groups thousands with the narrow no-break space Intl uses', () => {
    const fr = number('fr', 1234.5);
    expect(fr).toBe('1\u202f234,5');
    expect(renderNotification(group({ locale: 'fr' })).alerts[0]!.details[0]).toBe(`Valeur\u00a0: ${fr}`);
    expect(renderNotification(group({ locale: 'de' })).alerts[0]!.details[0]).toBe('Wert: 1.234,5');
  });

  it('uses the singular for one alert and counts resolved alerts when the group resolves', () => {
    expect(renderNotification(group({ alerts: [alert()] })).title).toMatch(/— 1 alert firing$/);
    expect(renderNotification(group({ locale: 'fr', alerts: [alert()] })).title).toMatch(/— 1 alerte active$/);
    const resolved = group({ status: 'resolved', reason: 'resolved', alerts: [alert({ status: 'resolved', endsAt: STARTS + 30 * 60_000 })] });
    const r = renderNotification({ ...resolved, locale: 'de' });
    expect(r.title).toBe('[BEHOBEN] HighLatency (endpoint=/search) — 1 Alarm behoben');
    expect(r.alerts[0]!.details[2]).toBe(`Behoben nach ${unit('de', 'minute', 30)}`);
  });

  it('words escalation and acknowledgement', () => {
    const escalated = renderNotification(group({ reason: 'escalation', escalationStep: 1, locale: 'es' }));
    expect(escalated.statusLabel).toBe('ESCALADA');
    expect(escalated.reasonLine).toBe('Sin confirmar a tiempo: escalada al nivel 2');
    const acked = renderNotification(group({ reason: 'acknowledged', acknowledged: { by: 'marie', at: NOW }, locale: 'it' }));
    expect(acked.statusLabel).toBe('PRESO IN CARICO');
    expect(acked.reasonLine).toMatch(/^Preso in carico da marie \(5 mar 2025.*UTC\)$/);
  });

  it('shows dates in the route’s time zone when it gives a valid one, else UTC', () => {
    const paris = renderNotification(group({ locale: 'fr' }), { timeZone: 'Europe/Paris' });
    expect(paris.timeZone).toBe('Europe/Paris');
    expect(paris.alerts[0]!.details[1]).toMatch(/15:03 UTC\+1$/);
    const bogus = renderNotification(group({ locale: 'fr' }), { timeZone: 'Mars/Olympus' });
    expect(bogus.timeZone).toBe('UTC');
    expect(bogus.alerts[0]!.details[1]).toMatch(/14:03 UTC$/);
  });

  it('words the seasonal detector’s explanation in the reader’s language', () => {
    const explanation = { detector: 'seasonal', kind: 'point', metric: 'api_latency_ms', value: 4120, unit: 'ms', sigma: 6.31, direction: 'above', expected: 120, slot: STARTS };
    const a = alert({ value: 0.97, annotations: { summary: 'english sentence', explanation_json: JSON.stringify(explanation) } });
    expect(renderNotification(group({ alerts: [a], locale: 'de' })).alerts[0]!.headline).toBe(
      `Anomalie: api_latency_ms liegt mit ${number('de', 4120)} ms 6,3 σ über dem erwarteten Wert 120 ms für Mi., 14:03 (Score 0,97)`,
    );
    const broken = alert({ annotations: { summary: 'english sentence', explanation_json: '{"detector":"seasonal"' } });
    expect(renderNotification(group({ alerts: [broken], locale: 'de' })).alerts[0]!.headline).toBe('english sentence');
  });

  it('words the “and N more” line', () => {
    expect(renderMoreAlerts(group({ locale: 'fr' }), 1)).toBe('… et 1 autre alerte');
    expect(renderMoreAlerts(group({ locale: 'it' }), 12)).toBe('… e altri 12 allarmi');
  });
});

describe('locale fallback', () => {
  it.each([
    ['fr-CA', 'fr', 'fr-CA'],
    ['FR_ca', 'fr', 'fr-CA'],
    ['de-AT', 'de', 'de-AT'],
    ['pt-BR', 'en', 'en'],
    ['not a tag!!', 'en', 'en'],
    ['', 'en', 'en'],
  ])('%s → catalog %s, formats as %s', (tag, language, formatLocale) => {
    expect(resolveLocale(tag)).toEqual({ language, formatLocale });
    expect(renderNotification(group({ locale: tag })).language).toBe(language);
  });
});

describe('tenant template overrides', () => {
  it('replaces a catalog message, in the tenant’s locale', () => {
    const r = renderNotification(group({ locale: 'fr', templates: { 'title.firing': '{status} · {name} · {count, plural, one {une alerte} other {# alertes}}' } }));
    expect(r.title).toBe('ALERTE · HighLatency (endpoint=/search) · 2 alertes');
  });

  it('refuses at load an override that does not parse, uses an unknown argument or an unknown key', () => {
    expect(
      validateTemplates({
        'title.firing': '{count, plural, one {# alert}',
        'alert.value': 'Value {value} on {host}',
        'alert.sincе': 'Since {since}',
        tenant: 42,
        'action.acknowledge': 'Ack it',
      }),
    ).toEqual([
      { path: 'title.firing', message: expect.stringMatching(/^does not parse as ICU MessageFormat/) },
      { path: 'alert.value', message: 'uses unknown argument {host}; this message takes {value}' },
      { path: 'alert.sincе', message: expect.stringMatching(/^is not a message key/) },
      { path: 'tenant', message: 'must be a non-empty ICU MessageFormat string' },
    ]);
  });

  it('never breaks a page: a bad override falls back to the catalog at send time', () => {
    const r = renderNotification(
      group({ locale: 'de', templates: { 'title.firing': '{count, plural, one {#}', 'alert.value': 'Wert {value} auf {host}', 'action.runbook': 'Handbuch' } }),
    );
    expect(r.title).toBe('[AUSGELÖST] HighLatency (endpoint=/search) — 2 aktive Alarme');
    expect(r.alerts[0]!.details[0]).toBe('Wert: 1.234,5');
    expect(r.actions.runbook).toBe('Handbuch');
  });
});
