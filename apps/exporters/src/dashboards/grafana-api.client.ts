import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { folderUid, type TenantDashboard } from './tenant-dashboards';

export class GrafanaApiError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`Grafana ${method} ${path}: ${status} ${typeof body === 'object' && body && 'message' in body ? String((body as { message: unknown }).message) : JSON.stringify(body)}`);
  }
}

export interface FolderPermission {
  role?: 'Viewer' | 'Editor';
  teamId?: number;
  userId?: number;
  /** 1 view, 2 edit, 4 admin. */
  permission: 1 | 2 | 4;
}

export interface GrafanaApiOptions {
  /** e.g. https://grafana.example.com (no trailing /api). */
  url: string;
  /** A service account token. */
  token: string;
  /** Sent as X-Grafana-Org-Id when the tenant lives in an organisation of its own. */
  orgId?: number;
  fetch?: typeof fetch;
}

export interface SearchHit {
  id: number;
  uid: string;
  title: string;
  type: 'dash-db' | 'dash-folder';
  url: string;
  tags: string[];
  folderUid?: string;
}

/**
 * Grafana's HTTP API (/api, Grafana 9–11) for what provisioning files cannot do at run time: create
 * a tenant's folder, upsert its dashboards, and hand the folder to the tenant's team only.
 */
export class GrafanaApiClient {
  private readonly fetch: typeof fetch;

  constructor(private readonly options: GrafanaApiOptions) {
    this.fetch = options.fetch ?? fetch;
  }

  private async call<T>(method: string, path: string, body?: unknown, allow: number[] = []): Promise<{ status: number; body: T }> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.options.token}`, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.options.orgId !== undefined) headers['x-grafana-org-id'] = String(this.options.orgId);
    const res = await this.fetch(`${this.options.url.replace(/\/$/, '')}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    const parsed = text ? (JSON.parse(text) as unknown) : undefined;
    if (!res.ok && !allow.includes(res.status)) throw new GrafanaApiError(method, path, res.status, parsed);
    return { status: res.status, body: parsed as T };
  }

  /** The folder with this uid, created if missing (its title is left alone if it exists). */
  async ensureFolder(uid: string, title: string): Promise<{ uid: string; title: string; created: boolean }> {
    const found = await this.call<{ uid: string; title: string }>('GET', `/api/folders/${encodeURIComponent(uid)}`, undefined, [404]);
    if (found.status === 200) return { uid: found.body.uid, title: found.body.title, created: false };
    const made = await this.call<{ uid: string; title: string }>('POST', '/api/folders', { uid, title });
    return { uid: made.body.uid, title: made.body.title, created: true };
  }

  /** Creates or replaces a dashboard (by uid) in a folder. */
  async upsertDashboard(dashboard: Dashboard, folder: string, message: string): Promise<{ uid: string; version: number; url: string }> {
    // `id: null` makes Grafana match on uid, whatever numeric id the dashboard has in this instance.
    const res = await this.call<{ uid: string; version: number; url: string; status: string }>('POST', '/api/dashboards/db', {
      dashboard: { ...dashboard, id: null },
      folderUid: folder,
      message,
      overwrite: true,
    });
    return { uid: res.body.uid, version: res.body.version, url: res.body.url };
  }

  /** Replaces the folder's whole permission list (Grafana's POST semantics): whatever is not listed is removed. */
  async setFolderPermissions(uid: string, items: FolderPermission[]): Promise<void> {
    await this.call('POST', `/api/folders/${encodeURIComponent(uid)}/permissions`, { items });
  }

  async folderPermissions(uid: string): Promise<{ teamId: number; userId: number; role: string; permission: number }[]> {
    return (await this.call<{ teamId: number; userId: number; role: string; permission: number }[]>('GET', `/api/folders/${encodeURIComponent(uid)}/permissions`)).body;
  }

  /** The team's id, the team created if missing. */
  async ensureTeam(name: string): Promise<number> {
    const found = await this.call<{ teams: { id: number; name: string }[] }>('GET', `/api/teams/search?name=${encodeURIComponent(name)}`);
    const team = found.body.teams.find((t) => t.name === name);
    if (team) return team.id;
    return (await this.call<{ teamId: number }>('POST', '/api/teams', { name })).body.teamId;
  }

  async search(params: { query?: string; type?: 'dash-db' | 'dash-folder'; folderUids?: string[]; tags?: string[] }): Promise<SearchHit[]> {
    const q = new URLSearchParams();
    if (params.query) q.set('query', params.query);
    if (params.type) q.set('type', params.type);
    if (params.folderUids?.length) q.set('folderUIDs', params.folderUids.join(','));
    for (const t of params.tags ?? []) q.append('tag', t);
    return (await this.call<SearchHit[]>('GET', `/api/search?${q}`)).body;
  }

  /**
   * A tenant's folder, dashboards and access: the folder is viewable by the tenant's team alone
   * (Grafana's default Viewer/Editor role entries are dropped), editable by nobody but admins, since
   * the dashboards are generated. Dashboards of the folder that the generator no longer makes are
   * reported, not deleted.
   */
  async provisionTenant(
    tenant: string,
    title: string,
    dashboards: readonly TenantDashboard[],
    access: { team: string },
  ): Promise<{ folderUid: string; teamId: number; dashboards: { uid: string; version: number }[]; stale: string[] }> {
    const folder = folderUid(tenant);
    await this.ensureFolder(folder, title);
    const saved: { uid: string; version: number }[] = [];
    for (const d of dashboards) {
      if (d.tenant !== tenant) throw new Error(`dashboard ${d.dashboard.uid} belongs to tenant ${d.tenant}, not ${tenant}`);
      const r = await this.upsertDashboard(d.dashboard, folder, `headroom: ${d.view} of ${tenant}`);
      saved.push({ uid: r.uid, version: r.version });
    }
    const teamId = await this.ensureTeam(access.team);
    await this.setFolderPermissions(folder, [{ teamId, permission: 1 }]);
    const present = await this.search({ type: 'dash-db', folderUids: [folder] });
    const wanted = new Set(saved.map((s) => s.uid));
    return { folderUid: folder, teamId, dashboards: saved, stale: present.filter((h) => !wanted.has(h.uid)).map((h) => h.uid) };
  }
}
