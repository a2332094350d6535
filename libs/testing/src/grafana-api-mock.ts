import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A permission item of Grafana's folder permissions API: exactly one of role, teamId, userId. */
export interface GrafanaPermissionItem {
  role?: 'Viewer' | 'Editor';
  teamId?: number;
  userId?: number;
  permission: 1 | 2 | 4;
}

interface Folder {
  id: number;
  uid: string;
  title: string;
  version: number;
}

interface StoredDashboard {
  id: number;
  uid: string;
  title: string;
  folderUid: string;
  version: number;
  tags: string[];
  model: Record<string, unknown>;
  message?: string;
}

interface Reply {
  status: number;
  body: unknown;
}

/**
 * A local server speaking the parts of Grafana's HTTP API (11.x, /api) that provisioning uses,
 * with the documented request and response shapes: folders (`POST /api/folders`,
 * `GET /api/folders/:uid`), dashboards (`POST /api/dashboards/db`, `GET /api/dashboards/uid/:uid`),
 * folder permissions (`GET|POST /api/folders/:uid/permissions`, a POST replaces the whole list),
 * teams (`GET /api/teams/search`, `POST /api/teams`) and `GET /api/search`. Every request needs
 * `Authorization: Bearer <token>` with the token given to the constructor (401 otherwise).
 */
export class GrafanaApiMock {
  readonly folders = new Map<string, Folder>();
  readonly dashboards = new Map<string, StoredDashboard>();
  /** Folder uid → its permission list (folders start with Grafana's defaults: Viewer view, Editor edit). */
  readonly permissions = new Map<string, GrafanaPermissionItem[]>();
  readonly teams = new Map<number, { id: number; name: string; email: string }>();
  /** Every request, in order: method, path and parsed body. */
  readonly requests: { method: string; path: string; body: unknown }[] = [];
  private server: Server | undefined;
  private nextId = 1;

  constructor(private readonly token: string) {}

  async start(): Promise<string> {
    this.server = createServer((req, res) =>
      void this.handle(req).then(({ status, body }) => {
        res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' });
        res.end(JSON.stringify(body));
      }),
    );
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return this.url();
  }

  url(): string {
    const { port } = this.server!.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  async stop(): Promise<void> {
    if (this.server) await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  /** A team made out of band, as an administrator would in Grafana's UI. */
  addTeam(name: string): number {
    const id = this.nextId++;
    this.teams.set(id, { id, name, email: '' });
    return id;
  }

  private async handle(req: IncomingMessage): Promise<Reply> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://grafana');
    let body: unknown = undefined;
    if (raw) {
      try {
        body = JSON.parse(raw);
      } catch {
        return { status: 400, body: { message: 'bad request data' } };
      }
    }
    this.requests.push({ method: req.method ?? '', path: url.pathname + url.search, body });
    if (req.headers['authorization'] !== `Bearer ${this.token}`) return { status: 401, body: { message: 'Unauthorized' } };
    if (raw && !String(req.headers['content-type'] ?? '').startsWith('application/json')) return { status: 400, body: { message: 'bad request data' } };
    const route = `${req.method} ${url.pathname}`;
    const folderPerm = /^(GET|POST) \/api\/folders\/([^/]+)\/permissions$/.exec(route);
    if (folderPerm) return folderPerm[1] === 'GET' ? this.getPermissions(folderPerm[2]) : this.setPermissions(folderPerm[2], body);
    const folderGet = /^GET \/api\/folders\/([^/]+)$/.exec(route);
    if (folderGet) return this.getFolder(folderGet[1]);
    const dashGet = /^GET \/api\/dashboards\/uid\/([^/]+)$/.exec(route);
    if (dashGet) return this.getDashboard(dashGet[1]);
    switch (route) {
      case 'POST /api/folders':
        return this.createFolder(body);
      case 'POST /api/dashboards/db':
        return this.saveDashboard(body);
      case 'GET /api/search':
        return this.search(url.searchParams);
      case 'GET /api/teams/search':
        return this.searchTeams(url.searchParams);
      case 'POST /api/teams':
        return this.createTeam(body);
      default:
        return { status: 404, body: { message: 'Not found' } };
    }
  }

  private createFolder(body: unknown): Reply {
    const b = body as { uid?: unknown; title?: unknown } | undefined;
    if (!b || typeof b.title !== 'string' || b.title.trim() === '') return { status: 400, body: { message: 'folder title cannot be empty' } };
    if (b.uid !== undefined && (typeof b.uid !== 'string' || !/^[a-zA-Z0-9_-]{1,40}$/.test(b.uid))) return { status: 400, body: { message: 'uid contains illegal characters' } };
    const uid = (b.uid as string | undefined) ?? `f${this.nextId}`;
    if (this.folders.has(uid)) return { status: 409, body: { message: 'a folder with the same uid already exists' } };
    if ([...this.folders.values()].some((f) => f.title === b.title)) return { status: 409, body: { message: 'a folder or dashboard in the general folder with the same name already exists' } };
    const folder = { id: this.nextId++, uid, title: b.title, version: 1 };
    this.folders.set(uid, folder);
    this.permissions.set(uid, [
      { role: 'Viewer', permission: 1 },
      { role: 'Editor', permission: 2 },
    ]);
    return { status: 200, body: this.folderBody(folder) };
  }

  private folderBody(f: Folder) {
    return { id: f.id, uid: f.uid, title: f.title, url: `/dashboards/f/${f.uid}/`, hasAcl: false, canSave: true, canEdit: true, canAdmin: true, version: f.version };
  }

  private getFolder(uid: string): Reply {
    const f = this.folders.get(uid);
    return f ? { status: 200, body: this.folderBody(f) } : { status: 404, body: { message: 'folder not found', status: 'not-found' } };
  }

  private saveDashboard(body: unknown): Reply {
    const b = body as { dashboard?: Record<string, unknown>; folderUid?: unknown; overwrite?: unknown; message?: unknown } | undefined;
    const d = b?.dashboard;
    if (!d || typeof d !== 'object') return { status: 400, body: { message: 'Dashboard is required' } };
    if (typeof d['title'] !== 'string' || d['title'].trim() === '') return { status: 400, body: { message: 'Dashboard title cannot be empty', status: 'empty-name' } };
    const folderUid = typeof b!.folderUid === 'string' ? b!.folderUid : '';
    if (folderUid && !this.folders.has(folderUid)) return { status: 400, body: { message: 'folder not found', status: 'folder-not-found' } };
    const uid = typeof d['uid'] === 'string' ? d['uid'] : `d${this.nextId}`;
    if (uid.length > 40) return { status: 400, body: { message: 'uid too long, max 40 characters', status: 'bad-uid' } };
    const existing = this.dashboards.get(uid);
    if (existing && b!.overwrite !== true && d['version'] !== existing.version) {
      return { status: 412, body: { message: 'The dashboard has been changed by someone else', status: 'version-mismatch' } };
    }
    const version = (existing?.version ?? 0) + 1;
    const id = existing?.id ?? this.nextId++;
    const tags = Array.isArray(d['tags']) ? (d['tags'] as string[]) : [];
    this.dashboards.set(uid, { id, uid, title: d['title'], folderUid, version, tags, model: { ...d, id, uid, version }, message: typeof b!.message === 'string' ? b!.message : undefined });
    const slug = d['title'].toLowerCase().replace(/[^a-z0-9]+/g, '-');
    return { status: 200, body: { id, uid, url: `/d/${uid}/${slug}`, status: 'success', version, slug } };
  }

  private getDashboard(uid: string): Reply {
    const d = this.dashboards.get(uid);
    if (!d) return { status: 404, body: { message: 'Dashboard not found' } };
    return { status: 200, body: { dashboard: d.model, meta: { folderUid: d.folderUid, folderTitle: this.folders.get(d.folderUid)?.title ?? 'General', version: d.version, provisioned: false } } };
  }

  private getPermissions(uid: string): Reply {
    const f = this.folders.get(uid);
    if (!f) return { status: 404, body: { message: 'folder not found' } };
    const list = this.permissions.get(uid) ?? [];
    return {
      status: 200,
      body: list.map((p) => ({
        folderId: f.id,
        folderUid: f.uid,
        userId: p.userId ?? 0,
        teamId: p.teamId ?? 0,
        team: p.teamId ? (this.teams.get(p.teamId)?.name ?? '') : '',
        role: p.role ?? '',
        permission: p.permission,
        permissionName: { 1: 'View', 2: 'Edit', 4: 'Admin' }[p.permission],
      })),
    };
  }

  private setPermissions(uid: string, body: unknown): Reply {
    if (!this.folders.has(uid)) return { status: 404, body: { message: 'folder not found' } };
    const items = (body as { items?: unknown } | undefined)?.items;
    if (!Array.isArray(items)) return { status: 400, body: { message: 'bad request data' } };
    for (const item of items as GrafanaPermissionItem[]) {
      const who = [item.role !== undefined, item.teamId !== undefined, item.userId !== undefined].filter(Boolean).length;
      if (who !== 1) return { status: 400, body: { message: 'permission item must have exactly one of role, teamId, userId' } };
      if (![1, 2, 4].includes(item.permission)) return { status: 400, body: { message: 'invalid permission' } };
      if (item.role !== undefined && !['Viewer', 'Editor'].includes(item.role)) return { status: 400, body: { message: 'invalid role' } };
      if (item.teamId !== undefined && !this.teams.has(item.teamId)) return { status: 404, body: { message: 'team not found' } };
    }
    this.permissions.set(uid, items as GrafanaPermissionItem[]);
    return { status: 200, body: { message: 'Folder permissions updated' } };
  }

  private search(params: URLSearchParams): Reply {
    const query = (params.get('query') ?? '').toLowerCase();
    const type = params.get('type');
    const folderUids = params.getAll('folderUIDs').flatMap((v) => v.split(','));
    const tags = params.getAll('tag');
    const hits: Record<string, unknown>[] = [];
    if (type !== 'dash-db' && folderUids.length === 0 && tags.length === 0) {
      for (const f of this.folders.values()) {
        if (f.title.toLowerCase().includes(query)) hits.push({ id: f.id, uid: f.uid, title: f.title, url: `/dashboards/f/${f.uid}/`, type: 'dash-folder', tags: [] });
      }
    }
    if (type !== 'dash-folder') {
      for (const d of this.dashboards.values()) {
        if (!d.title.toLowerCase().includes(query)) continue;
        if (folderUids.length > 0 && !folderUids.includes(d.folderUid)) continue;
        if (!tags.every((t) => d.tags.includes(t))) continue;
        hits.push({ id: d.id, uid: d.uid, title: d.title, url: `/d/${d.uid}`, type: 'dash-db', tags: d.tags, folderUid: d.folderUid || undefined, folderTitle: this.folders.get(d.folderUid)?.title });
      }
    }
    return { status: 200, body: hits };
  }

  private searchTeams(params: URLSearchParams): Reply {
    const name = params.get('name');
    const query = (params.get('query') ?? '').toLowerCase();
    const teams = [...this.teams.values()].filter((t) => (name !== null ? t.name === name : t.name.toLowerCase().includes(query)));
    return { status: 200, body: { totalCount: teams.length, teams: teams.map((t) => ({ ...t, orgId: 1, avatarUrl: '', memberCount: 0 })), page: 1, perPage: 1000 } };
  }

  private createTeam(body: unknown): Reply {
    const b = body as { name?: unknown; email?: unknown } | undefined;
    if (!b || typeof b.name !== 'string' || b.name === '') return { status: 400, body: { message: 'bad request data' } };
    if ([...this.teams.values()].some((t) => t.name === b.name)) return { status: 409, body: { message: 'Team name taken' } };
    const id = this.nextId++;
    this.teams.set(id, { id, name: b.name, email: typeof b.email === 'string' ? b.email : '' });
    return { status: 200, body: { message: 'Team created', teamId: id } };
  }
}
