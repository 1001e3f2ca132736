// Rewrites the generated route table in docs/api.md from the routes the
// server registers.
//   node --import tsx scripts/api-docs.ts
import { listRoutes, renderRouteTable } from '../src/api/route-table.js';
import { rewriteSection } from './generated-section.js';

rewriteSection('api.md', 'api-routes', renderRouteTable(await listRoutes()));
