import { AlertConfigBodySchema, CreateTenantBodySchema } from './tenants.dto';

describe('alert config body', () => {
  it('accepts anomaly paging, filling in its defaults', () => {
    expect(AlertConfigBodySchema.parse({ anomalies: {} })).toEqual({ rules: [], anomalies: { minScore: 0.8, severity: 'warning' } });
    const body = CreateTenantBodySchema.parse({ id: 'label-nova', displayName: 'Nova', alerting: { anomalies: { minScore: 0.9, metrics: ['api_latency_ms'] } } });
    expect(body.alerting?.anomalies).toEqual({ minScore: 0.9, severity: 'warning', metrics: ['api_latency_ms'] });
  });

  it('leaves anomaly paging off when absent', () => {
    expect(AlertConfigBodySchema.parse({ rules: [] }).anomalies).toBeUndefined();
  });

  it('rejects a bad anomalies block, naming each field', () => {
    const res = AlertConfigBodySchema.safeParse({ anomalies: { minScore: 2, severity: 'loud', metrics: ['a-b'], extra: 1 } });
    expect(res.success).toBe(false);
    if (!res.success) {
      const paths = res.error.issues.map((i) => i.path.join('.'));
      expect(paths).toEqual(expect.arrayContaining(['anomalies.minScore', 'anomalies.severity', 'anomalies.metrics.0', 'anomalies']));
    }
  });
});
