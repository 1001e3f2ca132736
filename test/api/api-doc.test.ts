// docs/api.md stays current: its route table is the one generated from the
// routes the server registers (npm run docs), every route has a summary, and
// every reason of the error catalogue is in its error table with its status.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listRoutes, renderRouteTable } from '../../src/api/route-table.js';
import { API_ERRORS } from '../../src/contract/errors.js';

const DOC = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'api.md'), 'utf8');

describe('docs/api.md', () => {
  it('holds the route table generated from the registered routes (run npm run docs)', async () => {
    const routes = await listRoutes();
    expect(routes.length).toBeGreaterThan(30);
    const begin = DOC.indexOf('<!-- api-routes:begin -->\n');
    const end = DOC.indexOf('\n<!-- api-routes:end -->');
    expect(begin).toBeGreaterThan(0);
    const table = DOC.slice(begin + '<!-- api-routes:begin -->\n'.length, end);
    expect(table).toBe(renderRouteTable(routes));
  });

  it('says what every route does', async () => {
    const unsaid = (await listRoutes())
      .filter((r) => !r.url.startsWith('/ui') && !r.summary)
      .map((r) => `${r.method} ${r.url}`);
    expect(unsaid).toEqual([]);
  });

  it('lists every error reason with its status', () => {
    const missing = Object.entries(API_ERRORS)
      .map(([reason, status]) => `| \`${reason}\` | ${status} |`)
      .filter((row) => !DOC.includes(row));
    expect(missing).toEqual([]);
  });
});
