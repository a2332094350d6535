/**
 * The Grafana HTTP API client against GrafanaApiMock (libs/testing), a local server speaking the
 * documented /api endpoints: a tenant gets its folder, its seven dashboards and a permission list
 * naming only its team; a second run changes versions, not the set; the other tenant's folder is
 * untouched; a wrong token and a dashboard of another tenant are refused.
 */
import { GrafanaApiMock } from '@headroom/testing';
import { GrafanaApiClient, GrafanaApiError } from './grafana-api.client';
import { buildTenantDashboards, DASHBOARD_VIEWS, folderUid } from './tenant-dashboards';

const TOKEN = 'glsa_test_token';
const grafana = new GrafanaApiMock(TOKEN);
let client: GrafanaApiClient;

beforeAll(async () => {
  client = new GrafanaApiClient({ url: await grafana.start(), token: TOKEN });
});
afterAll(() => grafana.stop());

describe('GrafanaApiClient against the documented Grafana HTTP API', () => {
  it("provisions a tenant: its folder, its seven dashboards in it, viewable by its team only (Grafana's role defaults removed)", async () => {
    const out = await client.provisionTenant('acme', 'Acme Music', buildTenantDashboards({ tenant: 'acme', displayName: 'Acme Music' }), { team: 'acme-viewers' });
    expect(out.folderUid).toBe(folderUid('acme'));
    expect(grafana.folders.get(out.folderUid)).toMatchObject({ title: 'Acme Music' });
    const hits = await client.search({ type: 'dash-db', folderUids: [out.folderUid] });
    expect(hits.map((h) => h.uid).sort()).toEqual(DASHBOARD_VIEWS.map((v) => `hr-acme-${v}`).sort());
    expect(hits.every((h) => h.folderUid === out.folderUid && h.tags.includes('headroom'))).toBe(true);
    const team = [...grafana.teams.values()].find((t) => t.name === 'acme-viewers')!;
    expect(await client.folderPermissions(out.folderUid)).toEqual([expect.objectContaining({ teamId: team.id, userId: 0, role: '', permission: 1 })]);
    expect(out.stale).toEqual([]);
    // The request shapes Grafana documents.
    const save = grafana.requests.find((r) => r.path === '/api/dashboards/db')!;
    expect(save.body).toEqual({ dashboard: expect.objectContaining({ id: null, uid: 'hr-acme-overview', title: 'Acme Music — Overview' }), folderUid: 'hr-acme', message: expect.any(String), overwrite: true });
    expect(grafana.requests.find((r) => r.method === 'POST' && r.path === '/api/folders')!.body).toEqual({ uid: 'hr-acme', title: 'Acme Music' });
    expect(grafana.requests.find((r) => r.method === 'POST' && r.path.endsWith('/permissions'))!.body).toEqual({ items: [{ teamId: team.id, permission: 1 }] });
  });

  it('is idempotent: a second run keeps the folder, team and dashboard set, bumps versions, and reports dashboards it no longer makes', async () => {
    const teamsBefore = grafana.teams.size;
    grafana.dashboards.set('hr-acme-legacy', { id: 999, uid: 'hr-acme-legacy', title: 'old', folderUid: 'hr-acme', version: 1, tags: [], model: {} });
    const out = await client.provisionTenant('acme', 'Acme Music', buildTenantDashboards({ tenant: 'acme', displayName: 'Acme Music' }), { team: 'acme-viewers' });
    expect(out.dashboards.every((d) => d.version === 2)).toBe(true);
    expect(grafana.teams.size).toBe(teamsBefore);
    expect([...grafana.folders.keys()].filter((k) => k === 'hr-acme')).toHaveLength(1);
    expect(out.stale).toEqual(['hr-acme-legacy']);
  });

  it("a second tenant gets its own folder and team; the first tenant's folder and permissions are untouched", async () => {
    const before = await client.folderPermissions('hr-acme');
    const out = await client.provisionTenant('globex', 'Globex Audio', buildTenantDashboards({ tenant: 'globex' }), { team: 'globex-viewers' });
    expect(out.folderUid).toBe('hr-globex');
    expect(await client.folderPermissions('hr-acme')).toEqual(before);
    const globexTeam = [...grafana.teams.values()].find((t) => t.name === 'globex-viewers')!.id;
    expect((await client.folderPermissions('hr-globex')).map((p) => p.teamId)).toEqual([globexTeam]);
    expect((await client.search({ type: 'dash-db', folderUids: ['hr-globex'] })).every((h) => h.uid.startsWith('hr-globex-'))).toBe(true);
  });

  it("refuses another tenant's dashboards and surfaces Grafana's errors (401 bad token, 404 unknown team in permissions)", async () => {
    await expect(client.provisionTenant('acme', 'Acme Music', buildTenantDashboards({ tenant: 'globex' }), { team: 'acme-viewers' })).rejects.toThrow(/belongs to tenant globex/);
    const wrong = new GrafanaApiClient({ url: grafana.url(), token: 'nope' });
    await expect(wrong.ensureFolder('x', 'X')).rejects.toMatchObject({ status: 401 });
    await expect(client.setFolderPermissions('hr-acme', [{ teamId: 4242, permission: 1 }])).rejects.toBeInstanceOf(GrafanaApiError);
  });
});
