/**
 * The routing tree, evaluated exactly as Alertmanager's dispatcher does (dispatch/route.go):
 * depth-first; the first matching child wins unless it has `continue: true`; a node that matches
 * with no matching child is itself the match. Children inherit receiver, grouping and timers (and
 * Headroom's escalation and locale) from their parent unless they set them; matchers are never
 * inherited.
 */
import { createHash } from 'node:crypto';
import { durationProblem, parseDuration, ROUTE_DEFAULTS, type AlertRouteConfig } from '@headroom/contracts';
import { matches, parseMatcherLines, type Labels, type Matcher } from './matchers';

export interface RouteOptions {
  readonly receiver: string;
  /** Label names alerts are grouped by; empty with `groupByAll`. */
  readonly groupBy: readonly string[];
  /** `group_by: ['...']`: every label of the alert is a grouping label. */
  readonly groupByAll: boolean;
  readonly groupWait: number;
  readonly groupInterval: number;
  readonly repeatInterval: number;
  readonly escalation?: string;
  readonly locale?: string;
}

export interface RouteMatch extends RouteOptions {
  /** The node's position: `0` is the root, `0.2.1` the second child of the root's third child. */
  readonly routeId: string;
  /** The labels the alert is grouped by on this route (Alertmanager's GroupLabels). */
  groupLabelsFor(labels: Labels): Record<string, string>;
  /**
   * Same alert group ⇔ same key: a hash of the routeId and the grouping labels' values. It holds no
   * tenant, so callers scope it by tenant themselves.
   */
  groupKeyFor(labels: Labels): string;
}

export interface CompiledRoute extends RouteMatch {
  readonly matchers: readonly Matcher[];
  readonly continue: boolean;
  readonly routes: readonly CompiledRoute[];
}

export interface RouteTree {
  readonly root: CompiledRoute;
  /** The routes an alert goes to, in tree order; never empty (the root catches everything). */
  match(labels: Labels): RouteMatch[];
  /** A node by routeId, e.g. to find a group's route again after a config reload. */
  route(routeId: string): CompiledRoute | undefined;
}

export class RouteConfigError extends Error {
  constructor(
    readonly routeId: string,
    message: string,
  ) {
    super(`route ${routeId}: ${message}`);
    this.name = 'RouteConfigError';
  }
}

/**
 * Compiles a route tree (validated by AlertRoutingSchema; this only throws RouteConfigError for
 * what it cannot compile: a root without receiver, a bad matcher or duration).
 */
export function compileRoutes(route: AlertRouteConfig): RouteTree {
  if (!route.receiver) throw new RouteConfigError('0', 'the root route needs a receiver');
  const rootDefaults: RouteOptions = {
    receiver: route.receiver,
    groupBy: [],
    groupByAll: false,
    groupWait: durationMs('0', 'group_wait', ROUTE_DEFAULTS.group_wait),
    groupInterval: durationMs('0', 'group_interval', ROUTE_DEFAULTS.group_interval),
    repeatInterval: durationMs('0', 'repeat_interval', ROUTE_DEFAULTS.repeat_interval),
  };
  const byId = new Map<string, CompiledRoute>();
  const root = compileNode(route, rootDefaults, '0', byId);
  return {
    root,
    match: (labels) => matchNode(root, labels) ?? [root],
    route: (routeId) => byId.get(routeId),
  };
}

function compileNode(cfg: AlertRouteConfig, parent: RouteOptions, routeId: string, byId: Map<string, CompiledRoute>): CompiledRoute {
  let matchers: Matcher[];
  try {
    matchers = parseMatcherLines(cfg.matchers ?? []);
  } catch (err) {
    throw new RouteConfigError(routeId, (err as Error).message);
  }
  const groupByAll = cfg.group_by ? cfg.group_by.includes('...') : parent.groupByAll;
  const opts: RouteOptions = {
    receiver: cfg.receiver ?? parent.receiver,
    groupByAll,
    groupBy: groupByAll ? [] : cfg.group_by ? [...new Set(cfg.group_by)].sort() : parent.groupBy,
    groupWait: cfg.group_wait !== undefined ? durationMs(routeId, 'group_wait', cfg.group_wait) : parent.groupWait,
    groupInterval: cfg.group_interval !== undefined ? durationMs(routeId, 'group_interval', cfg.group_interval) : parent.groupInterval,
    repeatInterval: cfg.repeat_interval !== undefined ? durationMs(routeId, 'repeat_interval', cfg.repeat_interval) : parent.repeatInterval,
    ...optional('escalation', cfg.escalation ?? parent.escalation),
    ...optional('locale', cfg.locale ?? parent.locale),
  };
  const groupLabelsFor = (labels: Labels): Record<string, string> => {
    const out: Record<string, string> = {};
    const names = opts.groupByAll ? Object.keys(labels).sort() : opts.groupBy;
    // An empty value is no label (Prometheus semantics), so it does not split a group.
    for (const n of names) if (labels[n]) out[n] = labels[n] as string;
    return out;
  };
  const node: CompiledRoute = {
    ...opts,
    routeId,
    matchers,
    continue: cfg.continue === true,
    routes: (cfg.routes ?? []).map((child, i) => compileNode(child, opts, `${routeId}.${i}`, byId)),
    groupLabelsFor,
    groupKeyFor: (labels) =>
      createHash('sha256')
        .update(JSON.stringify([routeId, Object.entries(groupLabelsFor(labels))]))
        .digest('hex')
        .slice(0, 32),
  };
  byId.set(routeId, node);
  return node;
}

// Alertmanager's Route.Match: a nil result means "this node does not match".
function matchNode(node: CompiledRoute, labels: Labels): RouteMatch[] | undefined {
  if (!matches(node.matchers, labels)) return undefined;
  const all: RouteMatch[] = [];
  for (const child of node.routes) {
    const found = matchNode(child, labels);
    if (!found) continue;
    all.push(...found);
    if (!child.continue) break;
  }
  if (all.length === 0) all.push(node);
  return all;
}

function durationMs(routeId: string, field: string, text: string): number {
  const problem = durationProblem(text);
  if (problem !== undefined) throw new RouteConfigError(routeId, `${field}: "${text}" is not a duration (${problem})`);
  return parseDuration(text);
}

function optional<K extends string>(key: K, value: string | undefined): { [P in K]?: string } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: string };
}
