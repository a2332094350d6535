/**
 * The chart's per-service Kafka users and the ACL step of the topics Job, rendered by the real
 * `helm template` (found as in helm-chart.spec.ts; without it this spec fails, never skips).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { HEADROOM_SERVICES } from '@headroom/contracts';

const root = path.resolve(__dirname, '..', '..');
const chart = path.join(root, 'deploy', 'helm', 'headroom');
const k8sValues = path.join(root, 'deploy', 'k8s', 'values.yaml');
const helm = [process.env.HELM, ...(process.env.PATH ?? '').split(path.delimiter).map((d) => path.join(d, 'helm')), path.join(process.env.GOPATH ?? path.join(os.homedir(), 'go'), 'bin', 'helm')].find(
  (c): c is string => !!c && fs.existsSync(c),
);

const set = (values: Record<string, string>) => Object.entries(values).flatMap(([k, v]) => ['--set', `${k}=${v}`]);
const render = (values: Record<string, string>) => execFileSync(helm!, ['template', 'headroom', chart, '-f', k8sValues, ...set(values)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const renderError = (values: Record<string, string>) => {
  const r = spawnSync(helm!, ['template', 'headroom', chart, '-f', k8sValues, ...set(values)], { encoding: 'utf8' });
  expect(r.status).not.toBe(0);
  return r.stderr;
};
const docs = (manifests: string) => manifests.split(/^---$/m);
const deployment = (manifests: string, app: string) => docs(manifests).find((d) => /^kind: Deployment$/m.test(d) && d.includes(`app.kubernetes.io/component: ${app}\n`))!;
const job = (manifests: string) => docs(manifests).find((d) => /^kind: Job$/m.test(d))!;

const secured = {
  'kafka.securityProtocol': 'SASL_SSL',
  'kafka.sasl.mechanism': 'scram-sha-512',
  'kafka.sasl.existingSecret': 'kafka-users',
  'kafka.sasl.usernameKey': 'admin-username',
  'kafka.sasl.passwordKey': 'admin-password',
  'kafka.sasl.perServiceUsers': 'true',
};

describe('per-service Kafka users and the ACL step', () => {
  it('has a helm to render with', () => {
    expect(helm).toBeDefined();
  });

  it('each service mounts its own user and password; the topics Job the admin user', () => {
    const out = render(secured);
    for (const app of HEADROOM_SERVICES) {
      expect(deployment(out, app)).toMatch(new RegExp(`- name: kafka-sasl\\n\\s+secret:\\n\\s+secretName: "kafka-users"\\n\\s+defaultMode: 0440\\n\\s+items:\\n\\s+- key: "${app}-username"\\n\\s+path: username\\n\\s+- key: "${app}-password"\\n\\s+path: password`));
    }
    expect(job(out)).toMatch(/- key: "admin-username"\n\s+path: username\n\s+- key: "admin-password"\n\s+path: password/);
    // Without acls.enabled the Job is the single topics container it always was.
    expect(job(out)).not.toMatch(/initContainers|name: acls|kafka-users\n\s+mountPath/);
  });

  it('acls.enabled: topics first (init container), then `cli.ts acls` with every service’s user name file, the group ids and the lag groups', () => {
    const out = job(render({ ...secured, 'kafka.acls.enabled': 'true', 'kafka.acls.prune': 'true', 'kafka.acls.lagGroups': 'analytics*', 'apps.exporters.env.EXPORTERS_GROUP_ID': 'hr-exporters' }));
    expect(out).toMatch(/initContainers:\n\s+- name: topics\n[\s\S]*args: \["tools\/infra\/cli.ts", "topics"\][\s\S]*containers:\n\s+- name: acls\n[\s\S]*args: \["tools\/infra\/cli.ts", "acls", "--prune"\]/);
    const acls = out.slice(out.indexOf('- name: acls'));
    for (const app of HEADROOM_SERVICES) {
      expect(acls).toContain(`- name: KAFKA_ACL_USER_${app.toUpperCase()}_FILE\n              value: /var/run/secrets/headroom/kafka-users/${app}\n`);
      expect(acls).toMatch(new RegExp(`- key: "${app}-username"\\n\\s+path: ${app}\\n`));
    }
    expect(acls).not.toMatch(/-password"\n\s+path: (collectors|analytics|alerting|exporters|control)\n/);
    expect(acls).toContain('- name: EXPORTERS_GROUP_ID\n              value: "hr-exporters"\n');
    expect(acls).toContain('- name: KAFKA_ACL_LAG_GROUPS\n              value: "analytics*"\n');
    expect(acls).toMatch(/- name: kafka-users\n\s+mountPath: \/var\/run\/secrets\/headroom\/kafka-users\n\s+readOnly: true/);
  });

  it.each([
    [{ 'kafka.acls.enabled': 'true' }, 'kafka.acls.enabled needs a SASL kafka.securityProtocol'],
    [{ ...secured, 'kafka.sasl.perServiceUsers': 'false', 'kafka.acls.enabled': 'true' }, 'kafka.acls.enabled needs kafka.sasl.perServiceUsers'],
    [{ ...secured, 'kafka.sasl.services.control.usernameKey': '' }, 'kafka.sasl.services.control.usernameKey is required with kafka.sasl.perServiceUsers'],
  ])('refuses %j', (values, message) => {
    expect(renderError(values)).toContain(message);
  });
});
