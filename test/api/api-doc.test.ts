// docs/api.md stays current: every route the server registers is in its route
// table with the permission it declares, and every reason of the error
// catalogue is in its error table with its status.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { API_ERRORS } from '../../src/contract/errors.js';
import { registeredRoutes } from '../support/routes.js';

const DOC = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'api.md'), 'utf8');

/** A route as the docs write it: `{target}` for a node route's target, `{name}` for other parameters. */
function documented(url: string): string {
  return url.replace(/^\/node\/:hostname/, '/node/{target}').replace(/:([A-Za-z]+)/g, '{$1}');
}

describe('docs/api.md', () => {
  it('lists every route with its permission', async () => {
    const missing: string[] = [];
    const routes = await registeredRoutes();
    expect(routes.length).toBeGreaterThan(30);
    for (const r of routes) {
      if (r.url.startsWith('/ui')) continue;
      const row = `| \`${r.method} ${documented(r.url)}\` | \`${String(r.permission)}\` |`;
      if (!DOC.includes(row)) missing.push(row);
    }
    expect(missing).toEqual([]);
  });

  it('lists every error reason with its status', () => {
    const missing = Object.entries(API_ERRORS)
      .map(([reason, status]) => `| \`${reason}\` | ${status} |`)
      .filter((row) => !DOC.includes(row));
    expect(missing).toEqual([]);
  });
});
