/**
 * Every generated dashboard, strictly against Grafana's schema as the foundation SDK's Go module
 * has it (tools/dashboards/validate: UnmarshalJSONStrict + Validate, plus checks the SDK leaves
 * out). The validator is built by tools/dashboards/validate/ensure.sh (cached per source version).
 * The committed example tree in deploy/grafana must also be what the generator writes today.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EXAMPLE_PROVISIONING } from './dashboards.example';
import { provisioningFiles } from './provisioning';
import { DASHBOARD_VIEWS } from './tenant-dashboards';

const ROOT = resolve(__dirname, '../../../..');
const dir = join(ROOT, 'tmp', 'dashboards-schema', Date.now().toString(36));

interface Verdict {
  file: string;
  ok: boolean;
  panels: number;
  errors?: string[];
}

let validator: string;

function validate(files: string[]): { status: number | null; verdicts: Verdict[] } {
  const res = spawnSync(validator, files, { encoding: 'utf8' });
  return { status: res.status, verdicts: res.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Verdict) };
}

beforeAll(() => {
  // Up to ~80 s on a cold Go build cache (the SDK's dashboard package is large); ~1 s when cached.
  validator = execFileSync('bash', [join(ROOT, 'tools/dashboards/validate/ensure.sh')], { encoding: 'utf8' }).trim().split('\n').at(-1)!;
  mkdirSync(dir, { recursive: true });
}, 300_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('generated dashboards against the Grafana schema (foundation SDK, Go, strict)', () => {
  it('every dashboard of every tenant passes, with every panel checked', () => {
    const tenants = [
      ...EXAMPLE_PROVISIONING.tenants,
      // An id that needs the hashed slug, and one with a quote that SQL must escape.
      { tenant: 'a-tenant-id-much-longer-than-twenty-two-characters', displayName: 'Long' },
      { tenant: "o'brien", displayName: "O'Brien" },
    ];
    const { files, dashboards } = provisioningFiles({ ...EXAMPLE_PROVISIONING, tenants });
    const paths = files.filter((f) => f.path.endsWith('.json')).map((f) => {
      const p = join(dir, f.path.replace(/\//g, '__'));
      writeFileSync(p, f.content);
      return p;
    });
    expect(paths).toHaveLength(tenants.length * DASHBOARD_VIEWS.length);
    const { status, verdicts } = validate(paths);
    expect(verdicts.filter((v) => !v.ok)).toEqual([]);
    expect(status).toBe(0);
    expect(verdicts).toHaveLength(paths.length);
    // The validator saw each panel the generator built.
    const built = dashboards.reduce((n, d) => n + (d.dashboard.panels?.length ?? 0), 0);
    expect(verdicts.reduce((n, v) => n + v.panels, 0)).toBe(built);
    expect(built).toBeGreaterThanOrEqual(tenants.length * 30);
  });

  it('refuses what Grafana would misread: unknown fields, wrong types, unknown panel types, SQL targets with a misspelt field', () => {
    const { dashboards } = provisioningFiles(EXAMPLE_PROVISIONING);
    const good = dashboards.find((d) => d.view === 'overview')!.dashboard;
    const variants: Record<string, (d: Record<string, unknown> & { panels: Record<string, unknown>[] }) => void> = {
      'unexpected field': (d) => (d['refreshh'] = '30s'),
      'cannot unmarshal string': (d) => ((d.panels[0]['gridPos'] as Record<string, unknown>)['h'] = '4'),
      'has no schema': (d) => (d.panels[0]['type'] = 'grafana-polystat-panel'),
      "unexpected field 'rawSQL'": (d) => ((d.panels[0]['targets'] as Record<string, unknown>[])[0]['rawSQL'] = 'select 1'),
      "unexpected field 'exprr'": (d) => ((d.panels[2]['targets'] as Record<string, unknown>[])[0]['exprr'] = 'up'),
      'must be < 12': (d) => (d['fiscalYearStartMonth'] = 12),
      'uid: required': (d) => delete d['uid'],
    };
    for (const [expected, mutate] of Object.entries(variants)) {
      const copy = JSON.parse(JSON.stringify(good));
      mutate(copy);
      const p = join(dir, `broken-${expected.replace(/\W+/g, '-')}.json`);
      writeFileSync(p, JSON.stringify(copy));
      const { status, verdicts } = validate([p]);
      expect({ expected, status }).toEqual({ expected, status: 1 });
      expect({ expected, errors: verdicts[0].errors?.join('\n') }).toEqual({ expected, errors: expect.stringContaining(expected) });
    }
  });

  it('deploy/grafana is what `npm run dashboards -- --out deploy/grafana` writes today', () => {
    for (const f of provisioningFiles(EXAMPLE_PROVISIONING).files) {
      expect({ path: f.path, content: readFileSync(join(ROOT, 'deploy/grafana', f.path), 'utf8') }).toEqual({ path: f.path, content: f.content });
    }
  });
});
