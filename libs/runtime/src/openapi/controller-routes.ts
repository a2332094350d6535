import 'reflect-metadata';
import { RequestMethod, type DynamicModule, type ForwardReference, type Type } from '@nestjs/common';
import { METHOD_METADATA, MODULE_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import type { OpenAPIObject } from 'openapi3-ts/oas31';
import type { HttpMethod } from './api-operation';

/** One route as Nest registers it: method, full path (`/v1/tenants/:tenant`) and its handler. */
export interface NestRoute {
  method: HttpMethod;
  path: string;
  controller: Type<unknown>;
  handler: string;
}

const METHODS: Partial<Record<RequestMethod, HttpMethod>> = {
  [RequestMethod.GET]: 'get',
  [RequestMethod.POST]: 'post',
  [RequestMethod.PUT]: 'put',
  [RequestMethod.PATCH]: 'patch',
  [RequestMethod.DELETE]: 'delete',
};

const first = (p: unknown): string => (Array.isArray(p) ? String(p[0] ?? '') : typeof p === 'string' ? p : '');
const joinPath = (...parts: string[]) => '/' + parts.map((p) => p.replace(/^\/+|\/+$/g, '')).filter(Boolean).join('/');

/** The route a controller method is, from the metadata `@Controller` and `@Get`/`@Post`… wrote; undefined for a plain method. */
export function routeOf(controller: Type<unknown>, handler: string): NestRoute | undefined {
  const fn = (controller.prototype as Record<string, unknown>)[handler];
  if (typeof fn !== 'function') return undefined;
  const requestMethod = Reflect.getMetadata(METHOD_METADATA, fn) as RequestMethod | undefined;
  const methodPath = Reflect.getMetadata(PATH_METADATA, fn) as unknown;
  if (requestMethod === undefined || methodPath === undefined) return undefined;
  const method = METHODS[requestMethod];
  if (!method) throw new Error(`${controller.name}.${handler}: method ${RequestMethod[requestMethod]} is not documented by this registry`);
  return { method, path: joinPath(first(Reflect.getMetadata(PATH_METADATA, controller)), first(methodPath)), controller, handler };
}

/** Every route of the given controllers (inherited handlers included). */
export function routesOf(controllers: readonly Type<unknown>[]): NestRoute[] {
  const routes: NestRoute[] = [];
  for (const controller of controllers) {
    const names = new Set<string>();
    for (let proto = controller.prototype as object | null; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto) as object | null) {
      Object.getOwnPropertyNames(proto).forEach((n) => n !== 'constructor' && names.add(n));
    }
    for (const name of names) {
      const route = routeOf(controller, name);
      if (route) routes.push(route);
    }
  }
  return routes;
}

type ModuleRef = Type<unknown> | DynamicModule | Promise<DynamicModule> | ForwardReference;

/**
 * Every controller a module tree declares: the static `@Module` metadata of each class and the
 * `controllers`/`imports` of each dynamic module, as Nest's scanner reads them (a forward
 * reference is followed; an async dynamic module cannot be read synchronously and is refused).
 */
export function controllersOf(root: ModuleRef): Type<unknown>[] {
  const found = new Set<Type<unknown>>();
  const seen = new Set<unknown>();
  const visit = (m: ModuleRef | undefined): void => {
    if (!m || seen.has(m)) return;
    seen.add(m);
    if (m instanceof Promise) throw new Error('controllersOf cannot follow an async dynamic module');
    if ('forwardRef' in m && typeof m.forwardRef === 'function') return visit(m.forwardRef() as ModuleRef);
    const dynamic = 'module' in m ? (m as DynamicModule) : undefined;
    const cls = (dynamic ? dynamic.module : m) as Type<unknown>;
    const declared = (key: string) => (Reflect.getMetadata(key, cls) as unknown[] | undefined) ?? [];
    for (const c of [...declared(MODULE_METADATA.CONTROLLERS), ...(dynamic?.controllers ?? [])]) found.add(c as Type<unknown>);
    if (dynamic && !seen.has(cls)) visit(cls);
    for (const i of [...declared(MODULE_METADATA.IMPORTS), ...(dynamic?.imports ?? [])]) visit(i as ModuleRef);
  };
  visit(root);
  return [...found];
}

/**
 * Registered routes the document does not describe, as `METHOD /path`. A wildcard route (`/*`)
 * counts as described when the document has any operation of that method that its handler serves
 * (its paths are the ones it dispatches on, which only the service knows).
 */
export function undocumentedRoutes(document: OpenAPIObject, routes: readonly NestRoute[]): string[] {
  const described = new Set<string>();
  for (const [path, item] of Object.entries(document.paths ?? {})) {
    for (const method of ['get', 'post', 'put', 'patch', 'delete'] as const) {
      const op = item[method];
      if (op) described.add(`${method.toUpperCase()} ${path}`).add(`${method.toUpperCase()} handler:${String(op.operationId).split(':')[0]}`);
    }
  }
  return routes
    .filter((r) => {
      const byPath = `${r.method.toUpperCase()} ${r.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`;
      if (r.path.endsWith('*')) return !described.has(`${r.method.toUpperCase()} handler:${r.controller.name}.${r.handler}`);
      return !described.has(byPath);
    })
    .map((r) => `${r.method.toUpperCase()} ${r.path}`);
}
