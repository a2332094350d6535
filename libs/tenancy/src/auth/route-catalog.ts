import { Inject, Injectable, RequestMethod, type OnApplicationBootstrap } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { ModulesContainer } from '@nestjs/core';
import { LOGGER, type Logger } from '@headroom/runtime';
import { REQUIRES_METADATA, type RouteRequirement } from './requires.decorator';

export interface RouteEntry {
  method: string;
  path: string;
  /** Undefined: the route declares nothing, and the AuthGuard refuses it. */
  requires: RouteRequirement | undefined;
}

const join = (...parts: string[]) => `/${parts.map((p) => p.replace(/^\/+|\/+$/g, '')).filter(Boolean).join('/')}`;
const paths = (value: unknown): string[] => (Array.isArray(value) ? value.map(String) : [value === undefined ? '' : String(value)]);

/** Every route of the application's controllers with its declaration, as Nest registered them. */
export function listRoutes(modules: ModulesContainer): RouteEntry[] {
  const routes: RouteEntry[] = [];
  for (const module of modules.values()) {
    for (const wrapper of module.controllers.values()) {
      const controller = wrapper.metatype as (new (...args: never[]) => unknown) | undefined;
      if (!controller) continue;
      const prefixes = paths(Reflect.getMetadata(PATH_METADATA, controller));
      const classRequirement = Reflect.getMetadata(REQUIRES_METADATA, controller) as RouteRequirement | undefined;
      const proto = controller.prototype as Record<string, unknown>;
      for (const name of Object.getOwnPropertyNames(proto)) {
        const handler = proto[name];
        if (name === 'constructor' || typeof handler !== 'function') continue;
        const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
        if (method === undefined) continue;
        const requires = (Reflect.getMetadata(REQUIRES_METADATA, handler) as RouteRequirement | undefined) ?? classRequirement;
        for (const prefix of prefixes) for (const path of paths(Reflect.getMetadata(PATH_METADATA, handler))) routes.push({ method: RequestMethod[method], path: join(prefix, path), requires });
      }
    }
  }
  return routes.sort((a, b) => a.path.localeCompare(b.path) || a.method.localeCompare(b.method));
}

/**
 * Logs the service's routes and what each requires once at boot (`msg: "routes"`): operators see
 * the access model as deployed, and the route-walking test reads every route from it. A route
 * without a declaration is logged as an error (the guard refuses it anyway).
 */
@Injectable()
export class RouteCatalog implements OnApplicationBootstrap {
  constructor(
    @Inject(ModulesContainer) private readonly modules: ModulesContainer,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    const routes = listRoutes(this.modules);
    this.logger.info({ routes }, 'routes');
    const undeclared = routes.filter((r) => !r.requires);
    if (undeclared.length) this.logger.error({ routes: undeclared.map((r) => `${r.method} ${r.path}`) }, 'routes without @Requires or @Public: every request to them is refused');
  }
}
