/**
 * Renders deploy/helm/headroom with the real `helm template`. helm is not packaged for Debian 12:
 * the test command builds it once (tools/test/ensure-helm.sh: `go install …/helm@v3.21.4` into
 * ~/go/bin; HELM=/path/to/helm points at another). Without it this spec fails, never skips. Checks that deploy/k8s is the chart rendered,
 * and the Kafka TLS/SASL values: variables, Secrets mounted as files, refusals.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..');
const chart = path.join(root, 'deploy', 'helm', 'headroom');
const k8sValues = path.join(root, 'deploy', 'k8s', 'values.yaml');

function findHelm(): string | undefined {
  const candidates = [
    process.env.HELM,
    ...(process.env.PATH ?? '').split(path.delimiter).map((d) => path.join(d, 'helm')),
    path.join(process.env.GOPATH ?? path.join(os.homedir(), 'go'), 'bin', 'helm'),
  ];
  return candidates.find((c): c is string => !!c && fs.existsSync(c));
}
const helm = findHelm();

function render(args: string[]): string {
  return execFileSync(helm!, ['template', 'headroom', chart, '-f', k8sValues, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}
function renderError(args: string[]): string {
  const r = spawnSync(helm!, ['template', 'headroom', chart, '-f', k8sValues, ...args], { encoding: 'utf8' });
  expect(r.status).not.toBe(0);
  return r.stderr;
}
const set = (values: Record<string, string>) => Object.entries(values).flatMap(([k, v]) => ['--set', `${k}=${v}`]);
const workloads = (manifests: string) => manifests.split(/^---$/m).filter((d) => /^kind: (Deployment|Job)$/m.test(d));

describe('deploy/helm/headroom rendered by helm', () => {
  it('has a helm to render with (tools/test/ensure-helm.sh builds one)', () => {
    expect(helm).toBeDefined();
  });

  it('deploy/k8s holds the chart rendered with deploy/k8s/values.yaml (PLAINTEXT: no Kafka security rendered)', () => {
    const services = render(['-s', 'templates/services.yaml']);
    expect(services).toBe(fs.readFileSync(path.join(root, 'deploy', 'k8s', 'headroom.yaml'), 'utf8'));
    expect(render(['-s', 'templates/topics-job.yaml'])).toBe(fs.readFileSync(path.join(root, 'deploy', 'k8s', 'topics-job.yaml'), 'utf8'));
    expect(services).not.toMatch(/KAFKA_SECURITY_PROTOCOL|KAFKA_SASL|KAFKA_TLS|kafka-sasl|kafka-tls/);
  });

  it('SASL_SSL with SCRAM and mutual TLS: every service and the topics Job get the variables and the Secrets as files', () => {
    const docs = workloads(
      render(
        set({
          'kafka.securityProtocol': 'SASL_SSL',
          'kafka.sasl.mechanism': 'SCRAM-SHA-512',
          'kafka.sasl.existingSecret': 'kafka-user',
          'kafka.sasl.passwordKey': 'pw',
          'kafka.tls.existingSecret': 'kafka-tls-secret',
          'kafka.tls.certKey': 'user.crt',
          'kafka.tls.keyKey': 'user.key',
          'kafka.clientIdPrefix': 'prod',
        }),
      ),
    );
    expect(docs).toHaveLength(6); // five Deployments and the Job
    for (const doc of docs) {
      for (const [name, value] of [
        ['KAFKA_SECURITY_PROTOCOL', '"SASL_SSL"'],
        ['KAFKA_SASL_MECHANISM', '"scram-sha-512"'],
        ['KAFKA_SASL_USERNAME_FILE', '/var/run/secrets/headroom/kafka-sasl/username'],
        ['KAFKA_SASL_PASSWORD_FILE', '/var/run/secrets/headroom/kafka-sasl/password'],
        ['KAFKA_TLS_CA_FILE', '/var/run/secrets/headroom/kafka-tls/ca.crt'],
        ['KAFKA_TLS_CERT_FILE', '/var/run/secrets/headroom/kafka-tls/tls.crt'],
        ['KAFKA_TLS_KEY_FILE', '/var/run/secrets/headroom/kafka-tls/tls.key'],
        ['KAFKA_CLIENT_ID_PREFIX', '"prod"'],
      ]) {
        expect(doc).toContain(`- name: ${name}\n              value: ${value}\n`);
      }
      expect(doc).not.toContain('KAFKA_TLS_REJECT_UNAUTHORIZED');
      expect(doc).not.toMatch(/name: KAFKA_SASL_PASSWORD\n/);
      expect(doc).toMatch(/volumeMounts:\n\s+- name: kafka-sasl\n\s+mountPath: \/var\/run\/secrets\/headroom\/kafka-sasl\n\s+readOnly: true\n\s+- name: kafka-tls\n/);
      expect(doc).toMatch(/secretName: "kafka-user"\n\s+defaultMode: 0440\n\s+items:\n\s+- key: "username"\n\s+path: username\n\s+- key: "pw"\n\s+path: password/);
      expect(doc).toMatch(/secretName: "kafka-tls-secret"[\s\S]*- key: "ca.crt"\n\s+path: ca.crt\n\s+- key: "user.crt"\n\s+path: tls.crt\n\s+- key: "user.key"\n\s+path: tls.key/);
    }
  });

  it('SSL with the default CAs and verification off: no volume, only the protocol and the switch', () => {
    const [doc] = workloads(render(set({ 'kafka.securityProtocol': 'ssl', 'kafka.tls.rejectUnauthorized': 'false' })));
    expect(doc).toContain('- name: KAFKA_SECURITY_PROTOCOL\n              value: "SSL"\n');
    expect(doc).toContain('- name: KAFKA_TLS_REJECT_UNAUTHORIZED\n              value: "false"\n');
    expect(doc).not.toMatch(/volumeMounts|volumes:|KAFKA_TLS_CA_FILE|KAFKA_SASL/);
  });

  it.each([
    [{ 'kafka.securityProtocol': 'TLS' }, 'kafka.securityProtocol must be PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL, not "TLS"'],
    [{ 'kafka.securityProtocol': 'SASL_SSL' }, 'kafka.sasl.mechanism is required with kafka.securityProtocol SASL_SSL'],
    [{ 'kafka.securityProtocol': 'SASL_PLAINTEXT', 'kafka.sasl.mechanism': 'gssapi' }, 'kafka.sasl.mechanism must be plain, scram-sha-256 or scram-sha-512, not "gssapi"'],
    [{ 'kafka.securityProtocol': 'SASL_PLAINTEXT', 'kafka.sasl.mechanism': 'plain' }, 'kafka.sasl.existingSecret is required'],
    [{ 'kafka.sasl.mechanism': 'plain' }, 'kafka.sasl.mechanism is set but kafka.securityProtocol PLAINTEXT does not use SASL'],
    [{ 'kafka.securityProtocol': 'SASL_PLAINTEXT', 'kafka.sasl.mechanism': 'plain', 'kafka.sasl.existingSecret': 's', 'kafka.tls.existingSecret': 't' }, 'kafka.tls.existingSecret is set but kafka.securityProtocol SASL_PLAINTEXT does not use TLS'],
    [{ 'kafka.securityProtocol': 'SSL', 'kafka.tls.existingSecret': 't', 'kafka.tls.keyKey': 'k' }, 'kafka.tls.keyKey needs kafka.tls.certKey'],
    [{ 'kafka.securityProtocol': 'SSL', 'kafka.tls.existingSecret': 't', 'kafka.tls.certKey': 'c' }, 'kafka.tls.certKey needs kafka.tls.keyKey'],
  ])('refuses %j', (values, message) => {
    expect(renderError(set(values))).toContain(message);
  });
});
