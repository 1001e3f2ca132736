// Every route `registerRoutes` adds, with its declared permission, read off a
// bare Fastify instance: registration only, no handler ever runs.
import Fastify from 'fastify';
import { registerAuth } from '../../src/api/auth.js';
import { registerRoutes } from '../../src/api/server.js';

export interface RegisteredRoute {
  method: string;
  /** Fastify's pattern, e.g. `/job/:id`. */
  url: string;
  permission: unknown;
}

export async function registeredRoutes(): Promise<RegisteredRoute[]> {
  const app = Fastify();
  const routes: RegisteredRoute[] = [];
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) {
      // HEAD routes are Fastify's own copies of the GET ones.
      if (method !== 'HEAD') routes.push({ method, url: r.url, permission: r.config?.permission });
    }
  });
  registerAuth(app, { signingKey: 'k', customRoles: {} });
  // Every dependency an empty object: enough to register, whatever deps are added later.
  const deps = new Proxy({} as Parameters<typeof registerRoutes>[1], {
    get: (target, key) => Reflect.get(target, key) ?? {},
  });
  registerRoutes(app, deps);
  await app.ready();
  await app.close();
  return routes;
}
