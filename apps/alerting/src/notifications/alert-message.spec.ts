import type { AlertNotification, AnomalyNotification } from './notification-channel';
import { formatAlertMessage } from './alert-message';

const base: AlertNotification = {
  tenant: 'label-a',
  locale: 'en',
  state: 'firing',
  fingerprint: 'fp',
  rule: { id: 'latency', metric: 'api_latency_ms', stat: 'p95', op: '>', threshold: 250, severity: 'warning' },
  series: { name: 'api_latency_ms', labels: { route: '/play' } },
  value: 312,
  startsAt: 1_767_225_600_000,
  route: { slackChannel: '#oncall' },
};

describe('formatAlertMessage', () => {
  it('words a firing alert in English', () => {
    expect(formatAlertMessage(base)).toBe('[FIRING] p95(api_latency_ms) = 312 > 250 — tenant label-a, route=/play');
  });

  it('words a resolved alert in English, with the threshold it no longer crosses', () => {
    expect(formatAlertMessage({ ...base, state: 'resolved', value: 180 })).toBe('[RESOLVED] p95(api_latency_ms) = 180 (threshold > 250) — tenant label-a, route=/play');
  });

  it('words both states in French, with French number formatting', () => {
    expect(formatAlertMessage({ ...base, locale: 'fr', value: 312.456 })).toBe('[ALERTE] p95(api_latency_ms) = 312,46 > 250 — locataire label-a, route=/play');
    expect(formatAlertMessage({ ...base, locale: 'fr-FR', state: 'resolved', value: 180.5 })).toBe(
      '[RÉSOLU] p95(api_latency_ms) = 180,5 (seuil > 250) — locataire label-a, route=/play',
    );
  });

  it('falls back to English for a language it does not know', () => {
    expect(formatAlertMessage({ ...base, locale: 'de' })).toMatch(/^\[FIRING\] .* — tenant label-a/);
  });

  it('lists labels in a stable order', () => {
    const msg = formatAlertMessage({ ...base, series: { name: 'api_latency_ms', labels: { route: '/play', region: 'eu' } } });
    expect(msg.endsWith('tenant label-a, region=eu, route=/play')).toBe(true);
  });
  it('words an anomaly page in English and in French, around the detector explanation', () => {
    const anomaly: AnomalyNotification = {
      tenant: 'label-a',
      locale: 'en',
      state: 'anomaly',
      fingerprint: 'fp',
      series: { name: 'api_latency_ms', labels: { route: '/play' } },
      value: 480,
      startsAt: 1_767_225_600_000,
      detector: 'seasonal',
      score: 0.97,
      explanation: 'p95 value 480 ms is 31.2σ above the expected 120 ms',
      severity: 'warning',
      route: { slackChannel: '#oncall' },
    };
    expect(formatAlertMessage(anomaly)).toBe('[ANOMALY] api_latency_ms{route=/play}: p95 value 480 ms is 31.2σ above the expected 120 ms (score 0.97) — tenant label-a');
    expect(formatAlertMessage({ ...anomaly, locale: 'fr-FR' })).toBe(
      '[ANOMALIE] api_latency_ms{route=/play}: p95 value 480 ms is 31.2σ above the expected 120 ms (score 0,97) — locataire label-a',
    );
  });
});
