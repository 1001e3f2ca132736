// The route table of docs/api.md, made from the routes the server registers:
// each route's method, path, permission and summary, read off a bare Fastify
// instance (registration only; no handler runs). scripts/api-docs.ts writes
// it into the file and test/api/api-doc.test.ts keeps it current.

import Fastify from 'fastify';
import { DEFAULT_FILE_MAX_BYTES } from '../contract/file.js';
import { registerAuth } from './auth.js';
import { registerRoutes } from './server.js';

export interface RouteInfo {
  method: string;
  /** Fastify's pattern, e.g. `/job/:id`. */
  url: string;
  permission: unknown;
  summary: string | undefined;
}

export async function listRoutes(): Promise<RouteInfo[]> {
  const app = Fastify();
  const routes: RouteInfo[] = [];
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) {
      // HEAD routes are Fastify's own copies of the GET ones.
      if (method === 'HEAD') continue;
      const summary = (r.schema as { summary?: string } | undefined)?.summary;
      routes.push({ method, url: r.url, permission: r.config?.permission, summary });
    }
  });
  registerAuth(app, { signingKey: 'k', customRoles: {} });
  // Every dependency an empty object: enough to register, whatever deps are added later.
  // Registration only needs the file store's size limit (its route's body limit).
  const deps = new Proxy(
    { files: { maxBytes: DEFAULT_FILE_MAX_BYTES } } as Parameters<typeof registerRoutes>[1],
    {
      get: (target, key) => Reflect.get(target, key) ?? {},
    },
  );
  registerRoutes(app, deps);
  await app.ready();
  await app.close();
  return routes;
}

/** A route as the docs write it: `{target}` for a node route's target, `{name}` for other parameters. */
export function documentedPath(url: string): string {
  return url.replace(/^\/node\/:hostname/, '/node/{target}').replace(/:([A-Za-z]+)/g, '{$1}');
}

/** The markdown table: route, permission, what; the console's files left out. */
export function renderRouteTable(routes: readonly RouteInfo[]): string {
  const rows = routes
    .filter((r) => !r.url.startsWith('/ui'))
    .map(
      (r) =>
        `| \`${r.method} ${documentedPath(r.url)}\` | \`${String(r.permission)}\` | ${r.summary ?? ''} |`,
    );
  return ['| route | permission | what |', '|---|---|---|', ...rows].join('\n');
}
