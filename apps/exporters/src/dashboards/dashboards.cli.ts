/**
 * `npm run dashboards -- --out deploy/grafana [--tenants tenants.json]`: writes Grafana's
 * provisioning tree (datasources, one folder per tenant, dashboards, reader SQL) for a tenant list.
 * Without --tenants it writes the example in ./dashboards.example.ts. The CLI lives with the
 * builders rather than in tools/ because module boundaries forbid tools from importing an app.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { EXAMPLE_PROVISIONING } from './dashboards.example';
import { provisioningFiles, type ProvisioningInput } from './provisioning';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function main(): void {
  const out = arg('out');
  if (!out) {
    console.error('usage: npm run dashboards -- --out DIR [--tenants FILE.json]');
    process.exit(2);
  }
  const tenantsFile = arg('tenants');
  const input: ProvisioningInput = tenantsFile ? JSON.parse(readFileSync(tenantsFile, 'utf8')) : EXAMPLE_PROVISIONING;
  const { files, dashboards } = provisioningFiles(input);
  const root = resolve(out);
  // Generated trees are replaced whole, so a removed tenant's files do not linger.
  for (const sub of ['datasources', 'dashboards', 'postgres']) rmSync(join(root, sub), { recursive: true, force: true });
  for (const f of files) {
    mkdirSync(dirname(join(root, f.path)), { recursive: true });
    writeFileSync(join(root, f.path), f.content);
  }
  console.log(`dashboards: ${input.tenants.length} tenants, ${dashboards.length} dashboards, ${files.length} files in ${root}`);
}

main();
