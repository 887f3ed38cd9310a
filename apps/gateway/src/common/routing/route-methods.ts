import type { FastifyInstance } from 'fastify';

interface RoutePattern {
  pattern: RegExp;
  methods: Set<string>;
}

/**
 * The methods each route path takes, learnt as routes are registered, so a request the router misses
 * only for its method gets 405 with `Allow` (as REST clients expect) rather than 404.
 */
export class RouteMethods {
  private readonly byUrl = new Map<string, RoutePattern>();

  /** Starts learning: must run before the application registers its routes. */
  static watch(fastify: FastifyInstance): RouteMethods {
    const routes = new RouteMethods();
    fastify.addHook('onRoute', ({ method, url }) => {
      for (const name of Array.isArray(method) ? method : [method]) routes.add(name, url);
    });
    return routes;
  }

  private add(method: string, url: string): void {
    let route = this.byUrl.get(url);
    if (!route) {
      route = { pattern: patternOf(url), methods: new Set() };
      this.byUrl.set(url, route);
    }
    route.methods.add(method.toUpperCase());
  }

  /** The methods the routes matching `path` take, sorted; empty when no route matches it. */
  allowed(path: string): string[] {
    const methods = new Set<string>();
    for (const route of this.byUrl.values()) {
      if (route.pattern.test(path)) route.methods.forEach((method) => methods.add(method));
    }
    return [...methods].sort();
  }
}

/** A route url (`/v1/events/:id`, `/docs/*`) as a regular expression over request paths. */
function patternOf(url: string): RegExp {
  const source = url
    .split('/')
    .map((segment) => {
      if (segment === '*') return '.*';
      if (segment.startsWith(':')) return '[^/]+';
      return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  // As strict as the router: `/v1/events/` is not `/v1/events`.
  return new RegExp(`^${source}$`);
}
